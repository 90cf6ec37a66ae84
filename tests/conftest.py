"""Shared fixtures and the opt-in `slow` tier (`pytest --run-slow`)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="Also run tests marked slow (full training, notebooks, full demo).",
    )


# Parametrized command-line error tests start a Python process per case (a Keras
# import: about 8 s each on 2 cores). The default tier runs the first case of each;
# the others are in the slow tier, which CI runs too (`pytest --run-slow -m slow`).
FIRST_CASE_ONLY = frozenset(
    {
        "test_cli_convert_errors_exit_2_naming_the_argument",
        "test_cli_benchmark_errors_exit_2_naming_the_argument",
        "test_cli_compare_errors_exit_2_naming_the_argument",
        "test_cli_broken_tflite_exits_2_naming_the_file",
        "test_cli_vocab_of_another_size_exits_2_naming_both_sizes",
        "test_cli_help_lists_options",
        "test_demo_rejects_bad_arguments_with_exit_2_naming_them",
    }
)


@pytest.hookimpl(tryfirst=True)  # before `-m slow` selects on the marks
def pytest_collection_modifyitems(config, items):
    seen = set()
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in FIRST_CASE_ONLY:
            if name in seen:
                item.add_marker(pytest.mark.slow)
            seen.add(name)
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: opt in with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def rng():
    """A seeded NumPy generator; also seeds Keras, TensorFlow and Python."""
    import keras

    keras.utils.set_random_seed(0)
    return np.random.default_rng(0)
