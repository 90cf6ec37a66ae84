"""The two graphs of `BandedLowRankEmbedding`'s lookup: one to train, one to run.

Both return the same codes: for every id, its band's row of `embeddings_a_i` in that
band's columns of a `sum_i k_i`-wide vector, zeros elsewhere.

- `select_codes` (training): per band, the id relative to the band (zero outside
  it), a gather from the band's own factor and a select that zeroes the other
  bands' ids. Gradients reach each factor as sparse row updates, and no table is
  copied.
- `lookup_codes` (inference, and so the converted LiteRT file): each band's factor
  padded with zero rows and read at clamped ids (`factorization.layout.lookup_steps`),
  without a select and without Keras' wrap of negative ids (`tf.gather` on the
  TensorFlow backend), so that each lookup is a plain `GATHER` (an
  `EMBEDDING_LOOKUP` once `tflite_lowrank.export.native_lookup` rewrites it). Two
  bands cost one `MINIMUM`, two `GATHER`s and one `CONCATENATION` where the select
  graph costs about a dozen operators.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from tflite_lowrank.factorization.layout import lookup_steps
from tflite_lowrank.factorization.quantization import (
    FLOAT16_MAX,
    LEVELS,
    ROW_QUANTIZATION,
)


def select_codes(inputs, slices: Sequence[slice], tables: Sequence, dtype):
    """The codes by gather-and-select per band (the graph used in training)."""
    last = len(slices) - 1
    codes = []
    for index, (band, table) in enumerate(zip(slices, tables, strict=True)):
        local = inputs - band.start if band.start else inputs
        if index == 0 and index == last:
            inside = None
        elif index == 0:
            inside = ops.less(inputs, band.stop)
        elif index == last:
            inside = ops.greater_equal(inputs, band.start)
        else:
            inside = ops.logical_and(
                ops.greater_equal(inputs, band.start), ops.less(inputs, band.stop)
            )
        if inside is None:
            rows = local
        else:
            # A select, not a clip: the converter fuses an integer clip to
            # [0, 6] into RELU6, which has no int32 kernel in LiteRT.
            rows = ops.where(inside, local, ops.zeros_like(local))
        code = ops.cast(ops.take(table, rows, axis=0), dtype)
        if inside is not None:
            code = ops.where(ops.expand_dims(inside, -1), code, 0.0)
        codes.append(code)
    return codes[0] if len(codes) == 1 else ops.concatenate(codes, axis=-1)


def fake_quantize_rows(codes, mode: str):
    """Looked-up `codes` rounded to their per-row grid (the last axis is the row)
    for `mode` `"int8_rows"` or `"int4_rows"`, with the straight-through gradient:
    the forward pass reads the values that file stores (`factorization.quantization`:
    scale `max|row| / 127` in float32, or `/ 7` rounded to float16), the backward
    pass the identity. Any other mode returns `codes` as they are.

    Example:

    >>> codes = np.array([[0.5, -1.0]], "float32")
    >>> fake_quantize_rows(codes, "int4_rows").numpy().tolist()
    [[0.5712890625, -0.999755859375]]
    """
    if mode not in ROW_QUANTIZATION:
        return codes
    bits = ROW_QUANTIZATION[mode]
    codes = ops.convert_to_tensor(codes)
    peak = ops.max(ops.abs(codes), axis=-1, keepdims=True)
    scale = _scale(peak, LEVELS[bits])
    if bits == 4:
        # As the file stores it: float16, at most its largest finite value, and
        # 1 (a row of zeros) where it rounds to 0.
        scale = ops.minimum(scale, FLOAT16_MAX)
        scale = ops.cast(ops.cast(scale, "float16"), codes.dtype)
        scale = ops.where(scale > 0, scale, ops.ones_like(scale))
    return _rounded(codes, scale, LEVELS[bits])


def fake_quantize_table(table, mode: str):
    """A code table (rows x rank) rounded to its per-column 4-bit grid for `mode`
    `"int4"` (scale `max|column| / 7`), with the straight-through gradient; any other
    mode returns `table` as it is.

    >>> fake_quantize_table(np.array([[0.6], [-1.0]], "float32"), "int4").numpy()
    array([[ 0.5714286],
           [-1.       ]], dtype=float32)
    """
    if mode != "int4":
        return table
    table = ops.convert_to_tensor(table)
    peak = ops.max(ops.abs(table), axis=0, keepdims=True)
    return _rounded(table, _scale(peak, LEVELS[4]), LEVELS[4])


def _scale(peak, top: int):
    return ops.where(peak > 0, peak / top, ops.ones_like(peak))


def _rounded(values, scale, top: int):
    levels = ops.clip(ops.round(values / scale), -top, top)
    return values + ops.stop_gradient(levels * scale - values)


def lookup_codes(
    inputs,
    input_dim: int,
    boundaries: Sequence[int],
    ranks: Sequence[int],
    tables: Sequence,
    dtype,
):
    """The codes by clamped lookups into zero-padded factors (the inference graph).

    The clamps run `MAXIMUM` before `MINIMUM`: the other order is fused by the
    TensorFlow converter into `RELU6` for the bounds `[0, 6]`, which has no int32
    kernel.
    """
    codes = []
    for step, table in zip(
        lookup_steps(input_dim, boundaries, ranks), tables, strict=True
    ):
        if step.pad_top or step.pad_bottom:
            table = ops.pad(table, ((step.pad_top, step.pad_bottom), (0, 0)))
        rows = inputs - step.shift if step.shift else inputs
        if step.lower is not None:
            rows = ops.maximum(rows, step.lower)
        if step.upper is not None:
            rows = ops.minimum(rows, step.upper)
        codes.append(ops.cast(_gather(table, rows), dtype))
    return codes[0] if len(codes) == 1 else ops.concatenate(codes, axis=-1)


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class GatherEmbedding(keras.layers.Embedding):
    """A `keras.layers.Embedding` whose lookup is one plain gather.

    `keras.layers.Embedding` reads `ops.take`, which wraps negative ids (`id + V`):
    three more operators per lookup in a LiteRT file (`LESS`, `ADD`, `SELECT`), a
    tenth of a DAN's latency. Token ids are never negative, so this layer gathers
    directly; ids outside `[0, input_dim)` are an error in TensorFlow and LiteRT.
    `tflite_lowrank.export.fold_projection` gives a folded `LowRankEmbedding` this
    layer for its codes.

    Example:

    >>> layer = GatherEmbedding(10, 4)
    >>> layer(np.array([[1, 2]])).shape
    TensorShape([1, 2, 4])
    """

    def call(self, inputs):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        return ops.cast(_gather(self.embeddings, inputs), self.compute_dtype)


def _gather(table, rows):
    """`table[rows]` along axis 0, without the wrap of negative ids that
    `keras.ops.take` adds (three more operators per lookup in a LiteRT file); the
    rows are never negative here."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(ops.convert_to_tensor(table), rows)
    return ops.take(table, rows, axis=0)


def lookup_table_shapes(
    input_dim: int, boundaries: Sequence[int], ranks: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """The shapes of the band tables `lookup_codes` gathers from (with their zero
    rows): what a converted file stores for each band.

    >>> lookup_table_shapes(1000, [10, 100], [8, 4, 2])
    ((11, 8), (92, 4), (901, 2))
    """
    return tuple(
        (step.rows, step.rank) for step in lookup_steps(input_dim, boundaries, ranks)
    )
