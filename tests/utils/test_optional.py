"""Tests for `tflite_lowrank.utils.optional`: the optional-dependency import helper."""

import json
import re

import pytest

from tflite_lowrank.utils.optional import require


def test_require_returns_the_imported_module():
    assert require("json", extra="data", purpose="Reading JSON") is json
    decoder = require("json.decoder", extra="data", purpose="Reading JSON")
    assert decoder is json.decoder


def test_require_names_the_package_and_the_extra_when_missing():
    with pytest.raises(ModuleNotFoundError) as info:
        require(
            "tflite_lowrank_no_such_module.sub",
            extra="data",
            purpose="Loading the `rotten_tomatoes` dataset",
        )
    message = str(info.value)
    assert message.startswith(
        "Loading the `rotten_tomatoes` dataset needs tflite_lowrank_no_such_module: "
        "pip install 'tflite-lowrank[data]'. Received: "
    )
    assert re.search(r"No module named 'tflite_lowrank_no_such_module'", message)
    # Still an ImportError for callers that catch that, with the missing module's name.
    assert isinstance(info.value, ImportError)
    assert info.value.name == "tflite_lowrank_no_such_module"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
