"""The checks of `benchmark_tflite` and `compare_models` arguments, for one file.

Private helpers of `tflite_lowrank.benchmark.api`. `_check_benchmark_args` reads a
file, checks it against the I/O contract (one or several inputs, one or several
outputs), picks the output to score (`output=`), checks the rows and labels against
it (`litert.rows`, `litert.scoring`) and returns the `_FileSpec` the child process
runs. Imports NumPy and LiteRT only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from tflite_lowrank.benchmark.child import _FileSpec, _num_rows
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert import rows as _rows
from tflite_lowrank.litert import scoring as _scoring
from tflite_lowrank.litert import weights as _weights
from tflite_lowrank.utils.checks import check_int as _check_int
from tflite_lowrank.utils.checks import check_path as _check_path
from tflite_lowrank.utils.checks import path_message as _path_message

MAX_THREADS = 256
"""The most interpreter threads `benchmark_tflite` starts (`num_threads`)."""


def _check_benchmark_args(
    path,
    token_ids,
    labels,
    num_threads,
    warmup_runs,
    num_runs,
    *,
    output: str | None = None,
    name: str = "path",
    scored: bool = True,
) -> _FileSpec:
    """Checks one file and its rows; `scored=False`: its predictions are not used
    (a file with several outputs then needs no `output`)."""
    _check_int(
        "num_threads",
        num_threads,
        minimum=1,
        maximum=MAX_THREADS,
        why=" (LiteRT starts a thread for each; a phone has 8 cores or fewer)",
    )
    _check_int("warmup_runs", warmup_runs, minimum=0)
    _check_int("num_runs", num_runs, minimum=1)
    _check_path(name, path)
    try:
        content, info = _flatbuffer.read_and_inspect(path, name=name)
    except FileNotFoundError:
        raise
    except OSError as error:  # unreadable (an I/O error, no permission)
        raise ValueError(_path_message(name, path, error)) from None
    received = f"{name}={os.fspath(path)!r}"
    problems = _contract.contract_problems(info, multi_input=True, multi_output=True)
    if problems:
        raise ValueError(
            "The file does not follow the I/O contract (one `serving_default` "
            "signature, input `token_ids` int32 [1, seq_len] or several named int32 "
            "[1, length] inputs, float32 outputs [1, num_labels] or per token [1, "
            "seq_len, num_tags]; see docs/contracts.md): "
            + "; ".join(problems)
            + f". Received: {received}"
        )
    if output is None and not scored and labels is None:
        output = min(spec.name for spec in info.outputs)  # Timed only, not scored.
    target = _contract.select_output(info, output, received=received)
    seq_len = max(spec.shape[1] for spec in info.inputs)
    inputs = [(spec.name, spec.shape[1], info.vocabulary_size) for spec in info.inputs]
    if token_ids is None:
        if labels is not None:
            raise ValueError(
                "`labels` need the `token_ids` they belong to. "
                "Received: token_ids=None with labels"
            )
        token_ids = _random_token_ids(seq_len, info.vocabulary_size)
        if len(inputs) > 1:
            token_ids = {
                input_name: token_ids[:, :length] for input_name, length, _ in inputs
            }
    elif len(inputs) > 1 or isinstance(token_ids, Mapping):
        # Several inputs: a dict keyed by input name (also accepted for one input).
        token_ids = _rows.check_input_rows(
            token_ids, name="token_ids", inputs=inputs, model=received
        )
        if len(inputs) == 1:
            token_ids = token_ids[inputs[0][0]]
    else:
        token_ids = _rows.check_token_ids(
            token_ids,
            name="token_ids",
            seq_len=seq_len,
            vocabulary_size=info.vocabulary_size,
        )
    mask = _scoring.padding_mask(
        token_ids, target.shape, output_name=target.name, received=received
    )
    if labels is not None:
        labels = _scoring.check_labels(
            labels, num_rows=_num_rows(token_ids), output_shape=target.shape, mask=mask
        )
    return _FileSpec(
        path=os.fspath(path),
        name=name,
        size_bytes=len(content),
        seq_len=seq_len,
        num_labels=int(target.shape[-1]),
        token_ids=token_ids,
        labels=labels,
        output=target.name if len(info.outputs) > 1 else None,
        output_shape=tuple(target.shape),
        mask=mask,
        storage=_weights.storage_kind(_weights.weight_storage(content)),
        tables=tuple(sorted(table.shape for table in info.embedding_tables)),
    )


def _random_token_ids(seq_len: int, vocabulary_size: int | None) -> np.ndarray:
    rng = np.random.default_rng(0)
    high = vocabulary_size or 2
    return rng.integers(min(2, high - 1), high, size=(64, seq_len)).astype(np.int32)
