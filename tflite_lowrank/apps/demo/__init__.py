"""`tflite-lowrank demo`: a baseline and a compressed model trained, converted and
compared on real data (`run`), with its settings and results (`results`)."""

from tflite_lowrank.apps.demo.results import (
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
)
from tflite_lowrank.apps.demo.run import default_output_dir, run_demo

__all__ = [
    "run_demo",
    "default_output_dir",
    "DemoResult",
    "DemoModel",
    "TrainingSummary",
    "RESULTS_FORMAT_VERSION",
    "MODELS",
    "BATCH_SIZE",
    "LEARNING_RATE",
    "SEQ_LEN",
    "DEFAULT_EPOCHS",
    "QUICK_SETTINGS",
    "KERAS_FILES",
    "TFLITE_FILES",
    "TEST_FILENAME",
    "RESULTS_JSON",
    "RESULTS_MARKDOWN",
    "PLOT_FILENAME",
    "ANDROID_PAIR",
    "RUN_FILES",
]
