"""Public import path `tflite_lowrank.android`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.apps.android.export`.
"""

from tflite_lowrank.apps.android.export import (  # noqa: F401
    ASSET_FILES,
    DATA_FILES,
    FORMAT_VERSION,
    GOLDEN_ATOL,
    GOLDEN_FILENAME,
    MANIFEST_FILENAME,
    MODEL_FILES,
    MODEL_KEYS,
    TEST_SET_FILENAME,
    VOCAB_FILENAME,
    AndroidExport,
    Tokenizer,
    check_android_assets,
    export_android_assets,
    load_labels,
    save_labels,
)

__all__ = [
    "ASSET_FILES",
    "DATA_FILES",
    "FORMAT_VERSION",
    "GOLDEN_ATOL",
    "GOLDEN_FILENAME",
    "MANIFEST_FILENAME",
    "MODEL_FILES",
    "MODEL_KEYS",
    "TEST_SET_FILENAME",
    "VOCAB_FILENAME",
    "Tokenizer",
    "load_labels",
    "save_labels",
    "AndroidExport",
    "export_android_assets",
    "check_android_assets",
]
