"""The settings' plain constants: one home, without pydantic, re-exported by the settings."""

from __future__ import annotations

import json
import subprocess
import sys

from vaxsync.core import setting_defaults, settings


def test_the_settings_defaults_are_the_plain_constants() -> None:
    assert settings.CAMPAIGN_START is setting_defaults.CAMPAIGN_START
    assert settings.LANDING_FILE_MAX_BYTES is setting_defaults.LANDING_FILE_MAX_BYTES
    defaults = settings.Settings.model_fields
    assert defaults["campaign_start"].default == setting_defaults.CAMPAIGN_START
    assert defaults["landing_file_max_bytes"].default == setting_defaults.LANDING_FILE_MAX_BYTES


def test_the_reason_catalogue_and_the_work_folder_import_no_pydantic() -> None:
    probe = (
        "import json, sys; import vaxsync.core.reasons, vaxsync.core.workdir; "
        "print(json.dumps(sorted(m for m in ('pydantic', 'vaxsync.core.settings') if m in sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert json.loads(loaded.stdout) == []
