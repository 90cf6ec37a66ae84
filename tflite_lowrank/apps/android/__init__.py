"""`tflite-lowrank export-android`: the assets the Android demo app reads.

`export` writes and checks them (`export_android_assets`, `check_android_assets`);
`assets` names the files and the manifest's format (`docs/contracts.md`);
`run_folder` reads a demo run folder.
"""

from tflite_lowrank.apps.android.assets import (
    ASSET_FILES,
    ASSET_MODEL_FILES,
    DATA_FILES,
    GOLDEN_ATOL,
    GOLDEN_FILENAME,
    MANIFEST_FILENAME,
    MANIFEST_FORMAT_VERSION,
    MODEL_KEYS,
    TEST_SET_FILENAME,
)
from tflite_lowrank.apps.android.export import (
    AndroidExport,
    check_android_assets,
    export_android_assets,
)

__all__ = [
    "AndroidExport",
    "export_android_assets",
    "check_android_assets",
    "ASSET_FILES",
    "ASSET_MODEL_FILES",
    "DATA_FILES",
    "GOLDEN_ATOL",
    "GOLDEN_FILENAME",
    "MANIFEST_FILENAME",
    "MANIFEST_FORMAT_VERSION",
    "MODEL_KEYS",
    "TEST_SET_FILENAME",
]
