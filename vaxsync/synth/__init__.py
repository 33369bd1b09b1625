"""Synthetic registry and facility exports with ground truth (`vaxsync synth`). See docs/synth.md."""

from vaxsync.synth.config import SynthConfig
from vaxsync.synth.generate import generate

__all__ = ["SynthConfig", "generate"]
