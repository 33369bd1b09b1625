"""The one Jinja environment of the reports (templates/): autoescaped, strict about missing values, compiled
templates cached per process (compiling costs far more than rendering)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates"


@functools.cache
def report_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
