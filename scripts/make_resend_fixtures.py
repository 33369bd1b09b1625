"""The renamed re-send of tests/integration/test_resends.py as a facility would send it: saved by LibreOffice Calc.

Writes the rows of RENAMED_V2 (synthetic people, hand-built in the test) to a CSV, has LibreOffice convert it
to XLSX with every column imported as text (as a facility's ID column is), and commits the workbook as
tests/fixtures/resends/ds_tiem_sua_lai.xlsx; tests need no LibreOffice. Run from the repository root:

    .venv/bin/python scripts/make_resend_fixtures.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path("tests/fixtures/resends/ds_tiem_sua_lai.xlsx")


def main() -> None:
    sys.path.insert(0, "tests/integration")
    from test_resends import HEADER, RENAMED_V2

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "ds_tiem_sua_lai.csv"
        source.write_text(HEADER + "".join(RENAMED_V2), encoding="utf-8")
        columns = "/".join(f"{column}/2" for column in range(1, HEADER.count(",") + 2))  # 2: text
        subprocess.run(
            ["soffice", "--headless", f"-env:UserInstallation=file://{work}/profile", "--convert-to", "xlsx",
             f"--infilter=CSV:44,34,76,1,{columns}", "--outdir", work, str(source)],
            check=True, capture_output=True,
        )  # fmt: skip
        OUT.write_bytes((Path(work) / "ds_tiem_sua_lai.xlsx").read_bytes())
    version = subprocess.run(["soffice", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"made {OUT} with {version}")


if __name__ == "__main__":
    main()
