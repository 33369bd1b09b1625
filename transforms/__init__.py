"""Ingestion and normalization: staging (read, map headers) and conformed (parse, canonicalise) layers."""
