"""Core: the contracts every layer shares (columns, reasons, settings, the work folder, masking). Imports nothing of the project."""
