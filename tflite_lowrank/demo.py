"""Public import path `tflite_lowrank.demo`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.apps.demo.run`.
"""

from tflite_lowrank.apps.demo.run import (  # noqa: F401
    ANDROID_PAIR,
    BATCH_SIZE,
    DEFAULT_EPOCHS,
    FORMAT_VERSION,
    KERAS_FILES,
    LEARNING_RATE,
    MODEL_FILES,
    MODELS,
    PLOT_FILENAME,
    QUICK_SETTINGS,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    RUN_FILES,
    SEQ_LEN,
    TEST_FILENAME,
    DemoModel,
    DemoResult,
    TrainingSummary,
    default_output_dir,
    run_demo,
)

__all__ = [
    "ANDROID_PAIR",
    "BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "FORMAT_VERSION",
    "KERAS_FILES",
    "LEARNING_RATE",
    "MODEL_FILES",
    "MODELS",
    "PLOT_FILENAME",
    "QUICK_SETTINGS",
    "RESULTS_JSON",
    "RESULTS_MARKDOWN",
    "RUN_FILES",
    "SEQ_LEN",
    "TEST_FILENAME",
    "DemoModel",
    "DemoResult",
    "TrainingSummary",
    "run_demo",
    "default_output_dir",
]
