"""Orchestration: the night's stages wired together, the CLI, partitions and storage."""
