"""Compare two folders of province reports (before / after a rendering change).

    python benchmarks/compare_report_files.py BEFORE_REPORTS_DIR AFTER_REPORTS_DIR

Every `mismatch_*` file must exist in both. HTML pages must be byte-identical. Workbooks (also when
byte-identical, which is reported) must have the
same sheet names, and per sheet the same protection, cell values, number formats (`@` text cells),
locked flags, fills and wrapping, cell by cell (openpyxl), plus the same merged ranges, freeze panes,
autofilter and data validations. Prints one line per difference (sheet and cell, never the value:
the files hold personal data) and exits 1 when there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet


def report_files(folder: Path) -> dict[Path, Path]:
    return {path.relative_to(folder): path for path in sorted(folder.rglob("mismatch_*"))}


def cell_facets(sheet: Worksheet) -> dict[str, tuple[object, ...]]:
    return {
        cell.coordinate: (
            cell.value,
            cell.number_format,
            cell.protection.locked,
            cell.fill.fgColor.rgb if cell.fill is not None else None,
            cell.alignment.wrap_text,
        )
        for row in sheet.iter_rows()
        for cell in row
    }


def sheet_facets(sheet: Worksheet) -> tuple[object, ...]:
    validations = sorted((str(v.sqref), v.type, v.formula1) for v in sheet.data_validations.dataValidation)
    return (
        sheet.protection.sheet,
        sheet.protection.autoFilter,
        sheet.protection.sort,
        str(sheet.freeze_panes),
        sheet.auto_filter.ref,
        sorted(str(merged) for merged in sheet.merged_cells.ranges),
        validations,
    )


def workbook_differences(before: Path, after: Path) -> list[str]:
    old, new = openpyxl.load_workbook(before), openpyxl.load_workbook(after)
    if old.sheetnames != new.sheetnames:
        return ["sheet names differ"]
    differences = []
    for name in old.sheetnames:
        if sheet_facets(old[name]) != sheet_facets(new[name]):
            differences.append(f"{name}: protection, panes, filter, merges or validations differ")
        old_cells, new_cells = cell_facets(old[name]), cell_facets(new[name])
        for coordinate in sorted(old_cells.keys() | new_cells.keys()):
            if old_cells.get(coordinate) != new_cells.get(coordinate):
                differences.append(f"{name}!{coordinate} differs")
    return differences


def main(before_dir: Path, after_dir: Path) -> int:
    before, after = report_files(before_dir), report_files(after_dir)
    differences = [f"{name}: only in one folder" for name in sorted(before.keys() ^ after.keys())]
    identical = 0
    for name in sorted(before.keys() & after.keys()):
        same_bytes = before[name].read_bytes() == after[name].read_bytes()
        identical += same_bytes
        if name.suffix == ".xlsx":  # cell by cell even when the bytes are the same: the check is the point
            differences += [f"{name}: {line}" for line in workbook_differences(before[name], after[name])]
        elif not same_bytes:
            differences.append(f"{name}: bytes differ")
    for line in differences:
        print(line)
    compared = len(before.keys() & after.keys())
    print(f"{compared} files compared, {identical} byte-identical, {len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
