"""One storage abstraction for the files the match partitions share: a local folder or any fsspec URL.

A location is a universal_pathlib `UPath`: a plain path or `file://` locally, `s3://`, `gs://` or
`az://` in production (with s3fs / gcsfs / adlfs installed), `memory://` in tests. Library code reads
and writes through these functions only, so the same code runs on one machine and on workers that
share nothing but the bucket. Credentials come from the environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS,
or fsspec's storage options in the URL's UPath), never from code.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Final

import polars as pl
from upath import UPath

from vaxsync.core.workdir import owner_only_files

LOCAL_PROTOCOLS = ("", "file", "local")
# Object stores polars reads itself (ranged requests, column and row-group pruning); credentials from env.
POLARS_NATIVE_PROTOCOLS = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")


def location(url: str | os.PathLike[str]) -> UPath:
    """A folder or file: a path, `file://...`, `s3://bucket/key`, `gs://...`, `memory://...`."""
    return UPath(url)


def is_local(path: UPath) -> bool:
    return path.protocol in LOCAL_PROTOCOLS


def _local(path: UPath) -> Path:
    return Path(path.path)


# A local partition store is read back on this machine within the night: lz4 writes the medium night's
# partition files in ~0.2 CPU s less than zstd (polars' default, kept for object stores) and reads faster.
LOCAL_COMPRESSION: Final = "lz4"


def write_parquet(frame: pl.DataFrame, path: UPath) -> UPath:
    """Write a whole file. Locally through a temporary name and a rename; an object store puts whole
    objects, so a reader never sees half a file either way."""
    if is_local(path):
        target = _local(path)
        with owner_only_files():  # partition files hold personal data: 0600 files in 0700 folders
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            frame.write_parquet(temporary, compression=LOCAL_COMPRESSION)
        os.replace(temporary, target)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        frame.write_parquet(handle)
    return path


def copy_file(source: Path, target: UPath) -> UPath:
    """Copy a local file (e.g. a cached Parquet file) to a location, whole, like write_parquet: bytes are
    copied, nothing is encoded or compressed again."""
    if is_local(target):
        local = _local(target)
        with owner_only_files():
            local.parent.mkdir(parents=True, exist_ok=True)
            temporary = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(source, temporary)
        os.replace(temporary, local)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer)
    return target


def scan_parquet(path: UPath) -> pl.LazyFrame:
    """A lazy scan: only the columns and rows a query asks for are read where the backend allows it."""
    if is_local(path):
        return pl.scan_parquet(_local(path))
    if path.protocol in POLARS_NATIVE_PROTOCOLS and not path.storage_options:
        return pl.scan_parquet(str(path))
    return pl.scan_parquet(path.open("rb"))


def read_parquet(path: UPath) -> pl.DataFrame:
    return scan_parquet(path).collect()


def write_json(path: UPath, payload: Any) -> UPath:
    text = json.dumps(payload, ensure_ascii=False, indent=1, default=str)
    if is_local(path):
        target = _local(path)
        with owner_only_files():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_json(path: UPath) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def remove_tree(path: UPath) -> None:
    """Remove a folder and everything under it (nothing when it does not exist)."""
    if path.exists():
        path.fs.rm(path.path, recursive=True)
