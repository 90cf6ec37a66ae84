"""Public import path `tflite_lowrank.android`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.apps.android.export`.
"""

from tflite_lowrank.apps.android.export import (  # noqa: F401
    ASSET_FILES,
    ASSET_MODEL_FILES,
    DATA_FILES,
    GOLDEN_ATOL,
    GOLDEN_FILENAME,
    MANIFEST_FILENAME,
    MANIFEST_FORMAT_VERSION,
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

# The names these had before each name got one meaning in the package (the demo's
# `results.json` has a format version and `.tflite` files of its own).
FORMAT_VERSION = MANIFEST_FORMAT_VERSION
MODEL_FILES = ASSET_MODEL_FILES

__all__ = [
    "ASSET_FILES",
    "ASSET_MODEL_FILES",
    "FORMAT_VERSION",
    "MODEL_FILES",
    "DATA_FILES",
    "GOLDEN_ATOL",
    "GOLDEN_FILENAME",
    "MANIFEST_FILENAME",
    "MANIFEST_FORMAT_VERSION",
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
