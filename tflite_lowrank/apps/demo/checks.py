"""The checks of `run_demo`'s arguments, made before any work.

Private helpers of `tflite_lowrank.apps.demo.run`: `_check_choice` (dataset and model
names), `_check_epochs` (which also fills in the defaults), `_check_weighting` and
`_check_output_dir` (a folder, and no earlier run in it unless `overwrite`);
`compression` is checked by the package's one `utils.checks.check_compression`. None
of them imports TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

from tflite_lowrank.apps.demo.results import DEFAULT_EPOCHS, MODELS, RUN_FILES
from tflite_lowrank.training.arguments import _WEIGHTINGS
from tflite_lowrank.utils.checks import check_int as _check_int


def _check_output_dir(output_dir, overwrite: bool) -> Path:
    if not isinstance(output_dir, str | os.PathLike):
        raise TypeError(
            "`output_dir` must be a path-like (str or pathlib.Path). "
            f"Received: output_dir={output_dir!r} (of type {type(output_dir).__name__})"
        )
    path = Path(output_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise FileExistsError(
            "`output_dir` is a file; the run needs a folder. Choose another "
            f"`output_dir`. Received: output_dir={str(path)!r}"
        )
    existing = [name for name in RUN_FILES if (path / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"`output_dir` already holds a run ({', '.join(existing[:3])}"
            f"{', ...' if len(existing) > 3 else ''}). Pass `overwrite=True` "
            "(`--overwrite`) to replace it, or choose another `output_dir` "
            f"(`--output-dir`). Received: output_dir={str(path)!r}, overwrite=False"
        )
    for name in existing:
        if (path / name).is_dir():
            raise FileExistsError(
                f"`output_dir` holds a folder named {name!r}, where the run writes a "
                f"file; move it away. Received: output_dir={str(path)!r}"
            )
    return path


def _check_choice(name: str, value: object, choices=None) -> str:
    from tflite_lowrank.data.datasets import DATASETS

    if choices is None:
        choices = DATASETS if name == "dataset" else MODELS
    if not isinstance(value, str):
        raise TypeError(
            f"`{name}` must be a string, one of {list(choices)}. "
            f"Received: {name}={value!r} (of type {type(value).__name__})"
        )
    if value not in choices:
        raise ValueError(
            f"Unknown `{name}`; expected one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def _check_weighting(weighting: object, calibrate: bool) -> str:
    """`weighting` is `"auto"`, `"none"` or `"consumer"` (not with `calibrate`)."""
    weighting = _check_choice("weighting", weighting, _WEIGHTINGS)
    if weighting == "consumer" and calibrate:
        raise ValueError(
            '`weighting="consumer"` and `calibrate=True` both weight the split; '
            "pass one of them. Received: weighting='consumer', calibrate=True"
        )
    return weighting


def _check_epochs(
    model: str, epochs: int | None, split_epoch: int | None
) -> tuple[int, int]:
    if epochs is None:
        epochs, default_split = DEFAULT_EPOCHS[model]
        split_epoch = default_split if split_epoch is None else split_epoch
    epochs = _check_int("epochs", epochs, minimum=2)
    if split_epoch is None:
        split_epoch = epochs // 2
    split_epoch = _check_int("split_epoch", split_epoch, minimum=1)
    if split_epoch >= epochs:
        raise ValueError(
            "`split_epoch` must be smaller than `epochs`: the compressed model trains "
            "`split_epoch` epochs on the full table, then the rest on the factors. "
            f"Received: split_epoch={split_epoch}, epochs={epochs}"
        )
    return epochs, split_epoch
