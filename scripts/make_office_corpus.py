"""Pass `vaxsync synth` exports through real office software and converters, with per-row truth.

    .venv/bin/vaxsync synth --out /tmp/corpus_src --citizens 3000 --shots 1300 --snapshot-date 2023-01-31
    .venv/bin/python scripts/make_office_corpus.py --source /tmp/corpus_src --out tests/fixtures/office_corpus

Needs LibreOffice (`soffice`) and glibc `iconv`; the tests only read the files this writes.
From a seeded sample of the synth's UTF-8 facility CSVs, each file is converted every way:

- LibreOffice Calc, headless, with a user profile per locale (en-US, vi-VN: `ooSetupSystemLocale` and
  `ooLocale` in the profile's registrymodifications.xcu): the CSV opened with the CSV import filter and
  saved as .xls, .xlsx and .ods, and a CSV round trip (opened, saved again as CSV in UTF-8, Windows-1258
  or UTF-16, in turn);
- glibc iconv from UTF-8 to VISCII, TCVN5712-1 and CP1258.

The converted files sit beside their original in a copy of the synth landing (untouched originals and
junk files included). Conversions keep the data rows in order; this is checked for every file, cell by
cell, and the truth maps each converted row to its original file and row and to the synth truth.
Outputs: <out>/landing/, <out>/registry.parquet, <out>/truth.parquet, <out>/manifest.json.
Running it again with the same inputs changes nothing (`--force` rebuilds; LibreOffice then writes a new
document date into the .xlsx/.ods/.xls metadata, the cells stay the same).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl

LOCALES = ("en-US", "vi-VN")
SHEET_FORMATS = ("xls", "xlsx", "ods")
# LibreOffice's CSV filter charset tokens (rtl_TextEncoding numbers): names such as "windows-1258" are
# silently ignored by the filter, so the numbers are used.
CSV_CHARSETS = {"utf8": (76, "utf-8"), "cp1258": (40, "cp1258"), "utf16": (65535, "utf-16")}
# glibc iconv names (`iconv -l`) -> label in the corpus.
ICONV_ENCODINGS = {"VISCII": "viscii", "TCVN5712-1": "tcvn5712-1", "CP1258": "cp1258"}
# synth formats LibreOffice and iconv can take as UTF-8 text, with their field separator.
SOURCE_SEPARATORS = {"csv_utf8": ",", "csv_utf8_bom_semicolon": ";", "tsv_utf8": "\t"}
SOFFICE_TIMEOUT_SECONDS = 600
# A converted row must repeat at least this share of its original's non-empty cells verbatim (the
# rest are numbers and dates the spreadsheet re-typed), so that a shifted row cannot pass.
MIN_SHARE_OF_CELLS_KEPT = 0.4

TRUTH_SCHEMA = pl.Schema(
    {
        "source_file": pl.String(),
        "source_row": pl.Int32(),
        "original_file": pl.String(),
        "converter": pl.String(),
        "file_format": pl.String(),
        "locale": pl.String(),
        "encoding": pl.String(),
        "kind": pl.String(),
        "true_citizen_id": pl.String(),
        "true_vaccination_date": pl.Date(),
        "true_vaccine": pl.String(),
        "true_dose_number": pl.Int8(),
        "expected": pl.String(),
        "corruptions": pl.List(pl.String()),
    }
)


class CorpusError(Exception):
    """A problem with the inputs or the tools, reported in one line."""


@dataclass(frozen=True)
class Conversion:
    converter: str  # "libreoffice" or "iconv"
    file_format: str  # xls, xlsx, ods, csv
    locale: str  # en-US, vi-VN, or "" for iconv
    encoding: str  # text files: utf8, cp1258, utf16, viscii, tcvn5712-1; "" for workbooks

    @property
    def kind(self) -> str:
        parts = [self.converter, self.file_format, self.locale, self.encoding]
        return "/".join(part for part in parts if part)

    @property
    def tag(self) -> str:
        short = {"libreoffice": "calc", "iconv": "iconv"}[self.converter]
        return "_".join(part for part in (short, self.locale, self.encoding) if part)


@dataclass(frozen=True)
class Source:
    path: str  # relative to the landing folder, posix
    separator: str


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a `vaxsync synth` output folder")
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to write")
    parser.add_argument("--files", type=int, default=40, help="source CSVs to convert every way")
    parser.add_argument("--seed", type=int, default=10, help="seed of the sample and the CSV charsets")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        message = build_corpus(args.source, args.out, args.files, args.seed, force=args.force)
    except CorpusError as error:
        print(f"make_office_corpus: {error}", file=sys.stderr)
        return 2
    print(message)
    return 0


def build_corpus(source_dir: Path, out_dir: Path, count_files: int, seed: int, *, force: bool) -> str:
    check_inputs(source_dir)
    plan = {
        "seed": seed,
        "files": count_files,
        "source_truth_sha256": sha256(source_dir / "truth.parquet"),
        "source_registry_sha256": sha256(source_dir / "registry.parquet"),
        "libreoffice": tool_version(["soffice", "--version"]),
        "iconv": tool_version(["iconv", "--version"]),
    }
    manifest_path = out_dir / "manifest.json"
    if not force and manifest_path.exists() and json.loads(manifest_path.read_text())["plan"] == plan:
        return f"{out_dir}: up to date"
    sources = sample_sources(source_dir, count_files, seed)
    conversions = plan_conversions(sources, seed)
    with tempfile.TemporaryDirectory(prefix="office_corpus_") as scratch_name:
        scratch = Path(scratch_name)
        staging = scratch / "corpus"
        shutil.copytree(source_dir / "landing", staging / "landing")
        convert_with_libreoffice(source_dir / "landing", staging / "landing", conversions, scratch)
        convert_with_iconv(source_dir / "landing", staging / "landing", conversions)
        verify_rows_kept(source_dir / "landing", staging / "landing", conversions)
        truth = corpus_truth(pl.read_parquet(source_dir / "truth.parquet"), conversions)
        truth.write_parquet(staging / "truth.parquet")
        shutil.copyfile(source_dir / "registry.parquet", staging / "registry.parquet")
        manifest = {
            "plan": plan,
            "kinds": truth.filter(pl.col("converter") != "none")
            .group_by("kind")
            .agg(files=pl.col("source_file").n_unique(), rows=pl.len())
            .sort("kind")
            .to_dicts(),
            "sources": [source.path for source in sources],
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        replace_outputs(staging, out_dir)
    converted = sum(len(items) for items in conversions.values())
    return f"{out_dir}: {converted} converted files from {len(sources)} sources, {truth.height} truth rows"


def check_inputs(source_dir: Path) -> None:
    for name in ("truth.parquet", "files.parquet", "registry.parquet", "landing"):
        if not (source_dir / name).exists():
            raise CorpusError(
                f"{source_dir / name} not found; make it with `vaxsync synth --out {source_dir}`"
            )
    for tool in ("soffice", "iconv"):
        if shutil.which(tool) is None:
            raise CorpusError(f"`{tool}` is not installed (Debian: libreoffice-calc, libc-bin)")


def tool_version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[0].strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sample_sources(source_dir: Path, count_files: int, seed: int) -> list[Source]:
    """A seeded sample of the facility CSVs the synth wrote as UTF-8 and the pipeline loads."""
    files = (
        pl.read_parquet(source_dir / "files.parquet")
        .filter(
            (pl.col("expected_status") == "loaded") & pl.col("file_format").is_in(list(SOURCE_SEPARATORS))
        )
        .sort("source_file")
    )
    if files.height < count_files:
        raise CorpusError(
            f"{source_dir} has {files.height} UTF-8 CSVs, {count_files} wanted: synth more --shots"
        )
    chosen = np.sort(np.random.default_rng(seed).choice(files.height, size=count_files, replace=False))
    picked = files[chosen.tolist()]
    return [
        Source(path, SOURCE_SEPARATORS[file_format])
        for path, file_format in zip(picked["source_file"], picked["file_format"], strict=True)
    ]


def plan_conversions(sources: list[Source], seed: int) -> dict[Source, list[tuple[Conversion, str]]]:
    """Every source, every way; the CSV round trip's charset goes round the three in a seeded order."""
    charsets = list(CSV_CHARSETS)
    offset = int(np.random.default_rng(seed).integers(len(charsets)))
    plan: dict[Source, list[tuple[Conversion, str]]] = {}
    for index, source in enumerate(sources):
        items = [Conversion("libreoffice", fmt, locale, "") for locale in LOCALES for fmt in SHEET_FORMATS]
        items += [
            Conversion("libreoffice", "csv", locale, charsets[(index + offset + shift) % len(charsets)])
            for shift, locale in enumerate(LOCALES)
        ]
        items += [Conversion("iconv", "csv", "", label) for label in ICONV_ENCODINGS.values()]
        plan[source] = [(conversion, converted_path(source.path, conversion)) for conversion in items]
    return plan


def converted_path(original: str, conversion: Conversion) -> str:
    stem, _, _ = original.rpartition(".")
    return f"{stem}__{conversion.tag}.{conversion.file_format}"


# ---- LibreOffice ----------------------------------------------------------------------------------


def convert_with_libreoffice(
    source_landing: Path, landing: Path, plan: dict[Source, list[tuple[Conversion, str]]], scratch: Path
) -> None:
    """One soffice call per (locale, target, separator): soffice converts many files per start."""
    batches: dict[tuple[str, str, str], list[tuple[Source, str]]] = {}
    for source, items in plan.items():
        for conversion, target in items:
            if conversion.converter == "libreoffice":
                key = (conversion.locale, export_target(conversion), source.separator)
                batches.setdefault(key, []).append((source, target))
    profiles = {locale: locale_profile(scratch / f"lo_{locale}", locale) for locale in LOCALES}
    for number, ((locale, target_filter, separator), members) in enumerate(sorted(batches.items())):
        inbox, outbox = scratch / f"in_{number}", scratch / f"out_{number}"
        inbox.mkdir()
        # Numbered copies: originals in different folders share names, and soffice names its
        # output after its input.
        for index, (source, _) in enumerate(members):
            shutil.copyfile(source_landing / source.path, inbox / f"{index:04d}.csv")
        run_soffice(
            profiles[locale],
            [
                "--convert-to",
                target_filter,
                "--outdir",
                str(outbox),
                f"--infilter=CSV:{ord(separator)},34,76,1",
                *sorted(str(path) for path in inbox.iterdir()),
            ],
        )
        extension = target_filter.split(":")[0]
        for index, (_, target) in enumerate(members):
            produced = outbox / f"{index:04d}.{extension}"
            if not produced.exists():
                raise CorpusError(f"LibreOffice did not write {target} ({locale}, {target_filter})")
            shutil.move(produced, landing / target)


def export_target(conversion: Conversion) -> str:
    if conversion.file_format != "csv":
        return conversion.file_format
    token, _ = CSV_CHARSETS[conversion.encoding]
    return f"csv:Text - txt - csv (StarCalc):44,34,{token}"


def locale_profile(profile: Path, locale: str) -> Path:
    """A LibreOffice user profile whose locale (dates, numbers) and UI language are `locale`."""
    run_soffice(profile, ["--terminate_after_init"])
    settings = profile / "user" / "registrymodifications.xcu"
    if not settings.exists():
        raise CorpusError(f"LibreOffice made no profile in {profile}")
    text = re.sub(
        r'<item oor:path="[^"]*"><prop oor:name="(ooLocale|ooSetupSystemLocale|GenerateThumbnail)".*?</item>\n?',
        "",
        settings.read_text(encoding="utf-8"),
    )
    items = "".join(
        f'<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="{name}" oor:op="fuse">'
        f"<value>{locale}</value></prop></item>\n"
        for name in ("ooLocale", "ooSetupSystemLocale")
    )
    # No preview picture in the .ods files (Tools > Options > Save): it would double the corpus size.
    items += (
        '<item oor:path="/org.openoffice.Office.Common/Save/Document"><prop oor:name="GenerateThumbnail" '
        'oor:op="fuse"><value>false</value></prop></item>\n'
    )
    settings.write_text(text.replace("</oor:items>", items + "</oor:items>"), encoding="utf-8")
    return profile


def run_soffice(profile: Path, arguments: list[str]) -> None:
    command = ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.resolve().as_uri()}"]
    # The profile, not the environment, sets the locale: a neutral environment keeps it that way.
    environment = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    try:
        subprocess.run(
            command + arguments,
            capture_output=True,
            check=True,
            env=environment,
            timeout=SOFFICE_TIMEOUT_SECONDS,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise CorpusError(f"soffice failed: {error}") from None


# ---- iconv ----------------------------------------------------------------------------------------


def convert_with_iconv(
    source_landing: Path, landing: Path, plan: dict[Source, list[tuple[Conversion, str]]]
) -> None:
    names = {label: name for name, label in ICONV_ENCODINGS.items()}
    for source, items in plan.items():
        # A file saved in a legacy encoding has no BOM, and those code pages hold precomposed letters
        # (VISCII has no combining marks at all): the text is given to iconv in NFC.
        text = unicodedata.normalize("NFC", read_source_text(source_landing / source.path))
        for conversion, target in items:
            if conversion.converter != "iconv":
                continue
            (landing / target).write_bytes(iconv_from_utf8(text, names[conversion.encoding], source.path))


def iconv_from_utf8(text: str, encoding: str, name: str) -> bytes:
    """iconv's bytes; a letter the code page lacks (the look-alike Ð U+00D0 in VISCII) is
    transliterated by iconv itself, as a user converting such a file would get."""
    for target in (encoding, f"{encoding}//TRANSLIT"):
        converted = subprocess.run(
            ["iconv", "-f", "UTF-8", "-t", target], input=text.encode("utf-8"), capture_output=True
        )
        if converted.returncode == 0:
            return converted.stdout
    raise CorpusError(
        f"iconv to {encoding} failed on {name}: {converted.stderr.decode(errors='replace').strip()}"
    )


def read_source_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


# ---- checks and truth -----------------------------------------------------------------------------


def verify_rows_kept(
    source_landing: Path, landing: Path, plan: dict[Source, list[tuple[Conversion, str]]]
) -> None:
    """Each converted file holds its original's rows, in order: row counts equal, cells repeated."""
    for source, items in plan.items():
        original = non_blank_rows(csv_rows(read_source_text(source_landing / source.path), source.separator))
        for conversion, target in items:
            converted = non_blank_rows(read_converted_rows(landing / target, conversion, source.separator))
            if len(converted) != len(original):
                raise CorpusError(f"{target}: {len(converted)} rows, its original {len(original)}")
            for number, (before, after) in enumerate(zip(original, converted, strict=True), start=1):
                cells = {cell.strip() for cell in after}
                kept = [cell for cell in before if cell.strip() and cell.strip() in cells]
                if len(kept) < MIN_SHARE_OF_CELLS_KEPT * sum(1 for cell in before if cell.strip()):
                    raise CorpusError(f"{target}: row {number} does not match its original")


def csv_rows(text: str, separator: str) -> list[list[str]]:
    return [
        [unicodedata.normalize("NFC", cell) for cell in row]
        for row in csv.reader(io.StringIO(text), delimiter=separator)
    ]


def non_blank_rows(rows: list[list[str]]) -> list[list[str]]:
    return [row for row in rows if any(cell.strip() for cell in row)]


def read_converted_rows(path: Path, conversion: Conversion, separator: str) -> list[list[str]]:
    if conversion.file_format in SHEET_FORMATS:
        sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()
        return [[cell or "" for cell in row] for row in sheet.iter_rows()]
    if conversion.converter == "iconv":
        names = {label: name for name, label in ICONV_ENCODINGS.items()}
        back = subprocess.run(
            ["iconv", "-f", names[conversion.encoding], "-t", "UTF-8"],
            input=path.read_bytes(),
            capture_output=True,
            check=True,
        )
        return csv_rows(back.stdout.decode("utf-8"), separator)
    _, codec = CSV_CHARSETS[conversion.encoding]
    return csv_rows(path.read_bytes().decode(codec), ",")


def corpus_truth(synth_truth: pl.DataFrame, plan: dict[Source, list[tuple[Conversion, str]]]) -> pl.DataFrame:
    """Per data row of every file in the corpus: its original file and row, and the synth truth."""
    mapping = pl.DataFrame(
        {
            "source_file": [target for items in plan.values() for _, target in items],
            "original_file": [source.path for source, items in plan.items() for _ in items],
            "converter": [conversion.converter for items in plan.values() for conversion, _ in items],
            "file_format": [conversion.file_format for items in plan.values() for conversion, _ in items],
            "locale": [conversion.locale for items in plan.values() for conversion, _ in items],
            "encoding": [conversion.encoding for items in plan.values() for conversion, _ in items],
            "kind": [conversion.kind for items in plan.values() for conversion, _ in items],
        },
        schema={
            "source_file": pl.String,
            "original_file": pl.String,
            "converter": pl.String,
            "file_format": pl.String,
            "locale": pl.String,
            "encoding": pl.String,
            "kind": pl.String,
        },
    )
    originals = synth_truth.with_columns(
        original_file=pl.col("source_file"),
        converter=pl.lit("none"),
        file_format=pl.col("file_format"),
        locale=pl.lit(""),
        encoding=pl.lit(""),
        kind=pl.lit("original"),
    )
    converted = mapping.join(
        synth_truth.drop("file_format").rename({"source_file": "original_file"}),
        on="original_file",
        how="inner",
    )
    return (
        pl.concat([originals.select(TRUTH_SCHEMA.names()), converted.select(TRUTH_SCHEMA.names())])
        .cast(TRUTH_SCHEMA)
        .sort("source_file", "source_row")
    )


def replace_outputs(staging: Path, out_dir: Path) -> None:
    """Swap in the new landing and tables; other files in the folder (its README) stay."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / "landing", ignore_errors=True)
    shutil.move(staging / "landing", out_dir / "landing")
    for name in ("truth.parquet", "registry.parquet", "manifest.json"):
        shutil.copyfile(staging / name, out_dir / name)


if __name__ == "__main__":
    sys.exit(main())
