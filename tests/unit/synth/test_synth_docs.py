"""docs/synth.md documents every defect with its default rate, and every header the generator writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.defects import DEFECTS
from synth.templates import TEMPLATES

DOC = Path(__file__).resolve().parents[3] / "docs" / "synth.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_every_defect_is_documented_with_its_default_rate(doc: str, defect: str) -> None:
    spec = DEFECTS[defect]
    assert f"| `{defect}` | {spec.unit} | {spec.default_rate:g} |" in doc


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_template_header_is_documented(doc: str, template: str) -> None:
    assert f"| `{template}` | {', '.join(TEMPLATES[template].values())} |" in doc
