"""Public import path `tflite_lowrank.demo`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.apps.demo.run`.
"""

from tflite_lowrank.apps.demo.run import (  # noqa: F401
    ANDROID_PAIR,
    BATCH_SIZE,
    DEFAULT_EPOCHS,
    KERAS_FILES,
    LEARNING_RATE,
    MODELS,
    PLOT_FILENAME,
    QUICK_SETTINGS,
    RESULTS_FORMAT_VERSION,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    RUN_FILES,
    SEQ_LEN,
    TEST_FILENAME,
    TFLITE_FILES,
    DemoModel,
    DemoResult,
    TrainingSummary,
    default_output_dir,
    run_demo,
)

# The names these had before each name got one meaning in the package (the Android
# assets have a `manifest.json` format version and model files of their own).
FORMAT_VERSION = RESULTS_FORMAT_VERSION
MODEL_FILES = TFLITE_FILES

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILES",
    "ANDROID_PAIR",
    "BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "KERAS_FILES",
    "LEARNING_RATE",
    "MODELS",
    "PLOT_FILENAME",
    "QUICK_SETTINGS",
    "RESULTS_FORMAT_VERSION",
    "RESULTS_JSON",
    "RESULTS_MARKDOWN",
    "RUN_FILES",
    "SEQ_LEN",
    "TEST_FILENAME",
    "TFLITE_FILES",
    "DemoModel",
    "DemoResult",
    "TrainingSummary",
    "run_demo",
    "default_output_dir",
]
