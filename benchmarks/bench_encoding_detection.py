"""Encoding detection on ~5 MB exports, one per encoding: time to choose the encoding (the sample of
marked words, every candidate's reading of it, the syllable scores) and to decode the whole file.

    .venv/bin/python benchmarks/bench_encoding_detection.py [--repeat 5]

The text is every UTF-8 sample CSV of /work/shared/samples/exports (or --samples), repeated to ~5 MB,
converted with glibc iconv (VISCII, TCVN5712-1, CP1258) or from viparse's tables (TCVN3, VNI, VPS).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from viparse.normalize.tables import Charmap
from viparse.normalize.tcvn3 import TCVN3
from viparse.normalize.vni import VNI
from viparse.normalize.vps import VPS

from transforms.ingest.text_decoding import (
    decode_export_bytes,
    score_single_byte_candidates,
)

TARGET_BYTES = 5_000_000


def iconv(text: str, target: str) -> bytes:
    return subprocess.run(
        ["iconv", "-c", "-f", "UTF-8", "-t", target], input=text.encode(), capture_output=True, check=False
    ).stdout


def through_table(charmap: Charmap) -> Callable[[str], bytes]:
    inverse: dict[str, str] = {}
    for surface, letter in charmap.pairs:
        inverse.setdefault(letter, surface)

    def encode(text: str) -> bytes:
        surface = "".join(inverse.get(char, inverse.get(char.lower(), char)) for char in text)
        return surface.encode("latin-1", errors="replace")

    return encode


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=Path, default=Path("/work/shared/samples/exports"))
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    texts = []
    for path in sorted(arguments.samples.rglob("*.csv")):
        try:
            texts.append(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            continue
    base = unicodedata.normalize("NFC", "".join(texts))
    text = base * (TARGET_BYTES // len(base.encode()) + 1)
    files = {
        "utf-8": text.encode(),
        "windows-1258": iconv(text, "CP1258"),
        "tcvn3": through_table(TCVN3)(text),
        "vni": through_table(VNI)(text),
        "viscii": iconv(text, "VISCII"),
        "vps": through_table(VPS)(text),
        "tcvn5712-1": iconv(text, "TCVN5712-1"),
    }
    for label, raw in files.items():
        decoded = decode_export_bytes(raw)
        assert decoded is not None
        detect = (
            (lambda raw=raw: raw.decode("utf_8"))
            if label == "utf-8"
            else (lambda raw=raw: score_single_byte_candidates(raw))
        )
        print(
            f"{label:13s} {len(raw) / 1e6:.1f} MB -> {decoded.encoding:13s} score {decoded.score:.3f}"
            f"  detection {median_ms(detect, arguments.repeat):6.1f} ms"
            f"  whole decode {median_ms(lambda raw=raw: decode_export_bytes(raw), arguments.repeat):6.0f} ms"
        )


if __name__ == "__main__":
    main()
