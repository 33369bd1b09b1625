"""Marts: the warehouse tables and the rules that fill them (events, publish, backlog, decisions, coverage)."""
