"""The run's work folder: where stages hand Parquet and JSON to each other (one folder per as-of night)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from vaxsync.settings import Settings


class RunWorkDir:
    """Named paths inside settings.run_work_dir; each stage overwrites its own outputs, so re-runs are safe."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.run_work_dir

    def reset(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        for folder in (self.staged_dir, self.ledger_dir, self.validation_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def discovered_file(self) -> Path:
        return self.root / "discovered.json"

    @property
    def staged_dir(self) -> Path:
        return self.root / "staged"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "ledger"

    @property
    def validation_dir(self) -> Path:
        return self.root / "validation"

    @property
    def normalized_file(self) -> Path:
        return self.root / "normalized.parquet"

    @property
    def match_input_file(self) -> Path:
        """Tonight's normalized rows plus the open backlog rows re-matched against the current registry."""
        return self.root / "match_input.parquet"

    @property
    def decisions_file(self) -> Path:
        """The review decisions read tonight, validated: one row per decision line (the audit rows)."""
        return self.root / "review_decisions.parquet"

    @property
    def decision_lines_file(self) -> Path:
        """The filled decision lines of tonight's new decision files, as read (before validation)."""
        return self.root / "review_decision_lines.parquet"

    @property
    def decision_files_file(self) -> Path:
        return self.root / "review_decision_files.parquet"

    @property
    def matches_file(self) -> Path:
        return self.root / "matches.parquet"

    @property
    def review_candidates_file(self) -> Path:
        return self.root / "review_candidates.parquet"

    @property
    def published_file(self) -> Path:
        return self.root / "published.json"

    def staged_file(self, file_hash: str) -> Path:
        return self.staged_dir / f"{file_hash}.parquet"

    def ledger_file(self, file_hash: str) -> Path:
        return self.ledger_dir / f"{file_hash}.json"


def write_json(path: Path, payload: Any) -> None:
    """Write atomically (temp file + rename), so a crashed task never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
