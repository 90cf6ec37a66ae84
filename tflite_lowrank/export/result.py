"""`ConversionResult`: what `convert_to_tflite` wrote, and what it decided on the way.

Private: `tflite_lowrank.export.converter` re-exports it, and that is where it is
imported from (`tl.ConversionResult`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tflite_lowrank.export.fold import FoldResult
from tflite_lowrank.litert.flatbuffer import TensorInfo
from tflite_lowrank.litert.weights import WeightStorage


@dataclasses.dataclass(frozen=True)
class ConversionResult:
    """What `convert_to_tflite` wrote.

    Args:
        path: String. The `.tflite` file.
        size_bytes: Integer. Size of the file.
        quantization: String. The mode, one of `"float32"`, `"dynamic"`,
            `"float16"`, `"int8"`, `"int4"`.
        ops: Tuple of strings. The builtin operators used, in all subgraphs, sorted.
        inputs: Tuple of `TensorInfo`. The `serving_default` inputs (`token_ids`).
        outputs: Tuple of `TensorInfo`. The `serving_default` outputs.
        embedding_tensors: Tuple of `TensorInfo`. The stored embedding table, or the
            factors `embeddings_a` and `embeddings_b` of a `LowRankEmbedding`, with
            their storage type and bytes.
        embedding_bytes: Integer. Bytes of `embedding_tensors` in the file.
        appended_softmax: Boolean. Whether a softmax was appended to logits (to
            any output, for a model with several).
        unrolled_layers: Tuple of strings. Recurrent layers unrolled for this
            conversion (`"int8"` only).
        max_output_difference: Float. Largest `|tflite - keras|` over the
            verification rows (probabilities unless `keep_logits=True`).
        folded_into: Tuple of strings. Layers whose input weight absorbed a
            `LowRankEmbedding`'s `embeddings_b` (empty: nothing folded).
        seq_len: Integer. Length of the `token_ids` input (the longest input, for
            several): the model's own, or `seq_len` for a variable-length model.
        two_class_outputs: Tuple of strings. Outputs of a binary classifier (a
            1-wide sigmoid or logit) written as two-class probabilities
            `[1 - p, p]`.
        fold_results: Tuple of `FoldResult`. For each `LowRankEmbedding`, whether
            its projection was folded, where, or why not (also when folding would
            have grown the weights).
        weights: Tuple of `WeightStorage`. Each weight of a matrix operator or a
            gather in the file: its storage type, bytes and the decision behind it.
        check_rows: Integer. Rows the file was checked on against Keras.
        check_source: String. Where they came from: `"check_data"`,
            `"representative_data"` or `"random ids"`.
        accuracy: Float or None. Accuracy of the file on the labels of
            `check_data` (None without labels).
        keras_accuracy: Float or None. Accuracy of the Keras model on them.

    Example:

    ```python
    result = tl.convert_to_tflite(model, "model.tflite", quantization="dynamic")
    print(result.size_bytes, result.embedding_bytes, result.ops)
    json.dumps(result.to_dict())
    ```
    """

    path: str
    size_bytes: int
    quantization: str
    ops: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    embedding_tensors: tuple[TensorInfo, ...]
    embedding_bytes: int
    appended_softmax: bool
    unrolled_layers: tuple[str, ...]
    max_output_difference: float
    folded_into: tuple[str, ...] = ()
    seq_len: int = 0
    two_class_outputs: tuple[str, ...] = ()
    fold_results: tuple[FoldResult, ...] = ()
    weights: tuple[WeightStorage, ...] = ()
    check_rows: int = 0
    check_source: str = ""
    accuracy: float | None = None
    keras_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "quantization": self.quantization,
            "ops": list(self.ops),
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "embedding_tensors": [spec.to_dict() for spec in self.embedding_tensors],
            "embedding_bytes": self.embedding_bytes,
            "appended_softmax": self.appended_softmax,
            "unrolled_layers": list(self.unrolled_layers),
            "max_output_difference": self.max_output_difference,
            "folded_into": list(self.folded_into),
            "seq_len": self.seq_len,
            "two_class_outputs": list(self.two_class_outputs),
            "fold_results": [fold.to_dict() for fold in self.fold_results],
            "weights": [weight.to_dict() for weight in self.weights],
            "check_rows": self.check_rows,
            "check_source": self.check_source,
            "accuracy": self.accuracy,
            "keras_accuracy": self.keras_accuracy,
        }
