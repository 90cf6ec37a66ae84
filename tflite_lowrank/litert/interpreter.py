"""Running a `.tflite` file in LiteRT: `make_interpreter` and the one-row `Runner`.

Imports NumPy and `ai_edge_litert` only, and nothing of this package: the benchmark's
measurement process (`tflite_lowrank/litert/worker.py`, run as a script) imports this
file as a plain sibling module, so that it never loads TensorFlow or Keras.

`native_stderr` keeps what C++ libraries write to the process' stderr (LiteRT's
"Created TensorFlow Lite XNNPACK delegate" line, the TFLite converter's MLIR and absl
lines) off the user's terminal; `make_interpreter` uses it, and so does the converter.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

import numpy as np

SIGNATURE_KEY = "serving_default"
"""The one signature of the I/O contract (`docs/contracts.md`)."""
INPUT_NAME = "token_ids"
"""The contract's one input: int32 `[1, seq_len]` token ids."""


def make_interpreter(
    *,
    model_path: os.PathLike[str] | str | None = None,
    model_content: bytes | None = None,
    num_threads: int = 1,
    quiet: bool = True,
):
    """A LiteRT interpreter with the default (XNNPACK) delegate, tensors allocated.

    With `quiet`, LiteRT's lines on stderr (the delegate's INFO line) are kept back,
    and written to stderr only when loading fails (`native_stderr`). The benchmark
    process passes False and keeps them back itself, outside its timer.
    """
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr(replay_on_error=True) if quiet else contextlib.nullcontext():
        interpreter = Interpreter(
            model_path=None if model_path is None else _native_path(model_path),
            model_content=model_content,
            num_threads=num_threads,
        )
        interpreter.allocate_tensors()
    return interpreter


def _native_path(path: os.PathLike[str] | str) -> str | bytes:
    """The path for LiteRT: a name that is not UTF-8 (bytes on Linux, decoded by
    Python with surrogates) as its bytes, which LiteRT takes and a str it refuses."""
    path = os.fspath(path)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


class CapturedText:
    """What `native_stderr` kept: `text`, set when the block ends."""

    text: str = ""


@contextlib.contextmanager
def native_stderr(*, replay_on_error: bool = False) -> Iterator[CapturedText]:
    """Redirects file descriptor 2 to a temporary file for the block.

    C++ libraries write to file descriptor 2 directly, past `sys.stderr`; so does
    Python's own `sys.stderr` when it is the real one (it is flushed first). Yields a
    `CapturedText` whose `text` holds what was written, once the block has ended.
    With `replay_on_error`, the text is written to stderr when the block raises.
    Where file descriptor 2 cannot be duplicated, nothing is redirected.
    """
    captured = CapturedText()
    _flush_stderr()
    try:
        temporary = tempfile.TemporaryFile()
    except OSError:  # No room for it: leave stderr alone.
        yield captured
        return
    with temporary:
        try:
            saved = os.dup(2)
        except OSError:
            yield captured
            return
        os.dup2(temporary.fileno(), 2)
        failed = False
        try:
            yield captured
        except BaseException:
            failed = True
            raise
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            temporary.seek(0)
            captured.text = temporary.read().decode("utf-8", "replace")
            if failed and replay_on_error and captured.text:
                os.write(2, captured.text.encode("utf-8", "replace"))


def _flush_stderr() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()


class Runner:
    """Feeds one row of token ids at a time through the `serving_default` signature.

    Uses the tensor indices directly (no per-call dictionaries), so that the time
    measured around `invoke` is LiteRT's, not Python's. A file with several inputs
    takes a row of each, as a dict keyed by input name (`input_names`). `output` names
    the output that `output()` and `predict()` read (None: the only one, or the first
    by name of a file with several).
    """

    def __init__(self, interpreter, output: str | None = None):
        self.interpreter = interpreter
        runner = interpreter.get_signature_runner(SIGNATURE_KEY)
        input_details = runner.get_input_details()
        output_details = runner.get_output_details()
        self.input_indices = {
            name: detail["index"] for name, detail in input_details.items()
        }
        self.input_names = tuple(self.input_indices)
        self.input_index = self.input_indices.get(INPUT_NAME)
        if self.input_index is None and len(self.input_indices) == 1:
            (self.input_index,) = self.input_indices.values()
        self.output_names = tuple(sorted(output_details))
        name = self.output_names[0] if output is None else output
        self.output_index = output_details[name]["index"]

    def set_input(self, row: np.ndarray | dict[str, np.ndarray]) -> None:
        if isinstance(row, dict):
            for name, index in self.input_indices.items():
                self.interpreter.set_tensor(index, row[name])
        else:
            self.interpreter.set_tensor(self.input_index, row)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def output(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_index)

    def predict(self, token_ids: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Returns the outputs for every row, shape `(num_rows, num_labels)`.

        `token_ids`: an array `(num_rows, seq_len)`, or for a file with several
        inputs a dict of such arrays keyed by input name.
        """
        rows = []
        for row in split_rows(token_ids):
            self.set_input(row)
            self.invoke()
            rows.append(self.output()[0].copy())
        return np.stack(rows)


def predict_classes(outputs: np.ndarray) -> np.ndarray:
    """Class indices from outputs `(..., num_labels)`: the argmax of the last axis.

    A 1-wide output is one probability `p` of class 1 (a sigmoid kept as is): class 1
    when `p > 0.5`, else 0. A per-token output `(rows, seq_len, num_tags)` gives one
    class per token.
    """
    outputs = np.asarray(outputs)
    if outputs.shape[-1] == 1:
        return (outputs[..., 0] > 0.5).astype(np.int64)
    return np.argmax(outputs, axis=-1).astype(np.int64)


def split_rows(
    token_ids: np.ndarray | dict[str, np.ndarray],
) -> list[np.ndarray] | list[dict[str, np.ndarray]]:
    """Batch-1 int32 rows `[1, seq_len]` (dicts of them for several inputs)."""
    if isinstance(token_ids, dict):
        arrays = {
            name: np.asarray(array, dtype=np.int32) for name, array in token_ids.items()
        }
        num_rows = len(next(iter(arrays.values())))
        return [
            {name: array[index][None, :] for name, array in arrays.items()}
            for index in range(num_rows)
        ]
    return [row[None, :] for row in np.asarray(token_ids, dtype=np.int32)]
