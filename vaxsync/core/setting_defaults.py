"""Plain constants behind settings (standard library only): the campaign start and the landing's file size
limit.

Their one home. `vaxsync.core.settings` re-exports them (the defaults of `Settings.campaign_start` and
`Settings.landing_file_max_bytes`); modules that need only the constant (the reason texts, the landing's
checks: read by the ingest workers and the render helper) import it from here, so that they do not import
pydantic (~0.15 CPU s per process).
"""

from __future__ import annotations

import datetime as dt

CAMPAIGN_START = dt.date(2021, 3, 8)  # the first COVID-19 shot given in Vietnam
# A landed export above this size is quarantined unread (file_too_large): the largest real exports (a
# province's year in one workbook) are tens of MB; a bigger file is a dump or junk that would cost a night
# gigabytes of memory (docs/ingestion.md, "Quarantine reasons").
LANDING_FILE_MAX_BYTES = 512 * 1024 * 1024
