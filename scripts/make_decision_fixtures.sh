#!/bin/sh
# Decision files made by tools other than vaxsync, for tests/unit/decisions (committed; tests need no tools):
#   semicolon_cp1258.csv   iconv (glibc) UTF-8 -> CP1258, semicolon-separated, one ragged line
#   libreoffice_formula.xlsx  LibreOffice Calc from a CSV whose decision cell is the formula ="reject"
# Row keys are made up (synthetic); no person's data. Run from the repository root.
set -eu
out=tests/fixtures/decisions
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
printf 'row_key;decision;corrected_id;reviewer;note\n%s:1;accept 2;;Trần Thị Bích;đã gọi điện xác nhận\n%s:2;reject;;Trần Thị Bích\n%s:3;corrected;001090000009;Trần Thị Bích;sai số CCCD;extra cell\n' \
    "$(printf 'a%.0s' $(seq 64))" "$(printf 'a%.0s' $(seq 64))" "$(printf 'a%.0s' $(seq 64))" \
    | iconv -f UTF-8 -t CP1258 > "$out/semicolon_cp1258.csv"
printf 'row_key,decision,reviewer\n%s:1,"=""rej""&""ect""",Le Van C\n%s:2,accept 1,Le Van C\n' \
    "$(printf 'b%.0s' $(seq 64))" "$(printf 'b%.0s' $(seq 64))" > "$work/libreoffice_formula.csv"
soffice --headless "-env:UserInstallation=file://$work/profile" --convert-to xlsx \
    --infilter=CSV:44,34,76,1,,,,,,,,-1 --outdir "$work" "$work/libreoffice_formula.csv" >/dev/null
cp "$work/libreoffice_formula.xlsx" "$out/"
echo "made: $(iconv --version | head -1); $(soffice --version)"
