"""Running a `.tflite` file in LiteRT: `make_interpreter` and the one-row `Runner`.

Imports NumPy and `ai_edge_litert` only, and nothing of this package: the benchmark's
measurement process (`tflite_lowrank/litert/worker.py`, run as a script) imports this
file as a plain sibling module, so that it never loads TensorFlow or Keras.
"""

from __future__ import annotations

import os

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
):
    """A LiteRT interpreter with the default (XNNPACK) delegate, tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(
        model_path=None if model_path is None else os.fspath(model_path),
        model_content=model_content,
        num_threads=num_threads,
    )
    interpreter.allocate_tensors()
    return interpreter


class Runner:
    """Feeds one row of token ids at a time through the `serving_default` signature.

    Uses the tensor indices directly (no per-call dictionaries), so that the time
    measured around `invoke` is LiteRT's, not Python's.
    """

    def __init__(self, interpreter):
        self.interpreter = interpreter
        runner = interpreter.get_signature_runner(SIGNATURE_KEY)
        input_details = runner.get_input_details()
        output_details = runner.get_output_details()
        self.input_index = input_details[INPUT_NAME]["index"]
        (output,) = output_details.values()
        self.output_index = output["index"]

    def set_input(self, row: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input_index, row)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def output(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_index)

    def predict(self, token_ids: np.ndarray) -> np.ndarray:
        """Returns the outputs for every row, shape `(num_rows, num_labels)`."""
        rows = []
        for row in np.asarray(token_ids, dtype=np.int32):
            self.set_input(row[None, :])
            self.invoke()
            rows.append(self.output()[0].copy())
        return np.stack(rows)
