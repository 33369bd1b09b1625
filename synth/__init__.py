"""Synthetic registry and facility exports with ground truth (`vaxsync synth`). See docs/synth.md."""

from synth.config import SynthConfig
from synth.generate import generate

__all__ = ["SynthConfig", "generate"]
