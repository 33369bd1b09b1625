"""Conformed layer: column rules, each a small function returning a polars expression, composed by
normalize_shots (transforms.normalize.shots: staged rows -> normalized shots). See docs/normalization.md.

Nothing is re-exported here: importing one rule's module (ingest reads text.py and dates.py) must not
import the whole stage (its reference tables, numpy), which costs an ingest worker process ~1 CPU s."""
