"""Reports: the run report, the backlog summary and the per-province mismatch reports."""
