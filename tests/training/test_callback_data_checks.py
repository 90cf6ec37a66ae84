"""`EmbeddingFactorization` refuses bad `calibration_data` and `token_counts` early.

Each error names the argument and the value received, and comes before any training:
in the constructor, or when `fit()` starts (`set_model`) for what needs the layer.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite_lowrank as tl

VOCAB, DIM, SEQ, SAMPLES, BATCH = 50, 8, 5, 128, 32


@pytest.fixture
def data(rng):
    x = rng.integers(1, VOCAB, (SAMPLES, SEQ)).astype("int32")
    return x, (x[:, 0] % 2).astype("int32")


def model():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def two_tables():
    """Words (VOCAB ids) and tags (5 ids), each with its own table."""
    words = keras.Input((SEQ,), dtype="int32", name="words")
    tags = keras.Input((SEQ,), dtype="int32", name="tags")
    pool = keras.layers.GlobalAveragePooling1D()
    hidden = keras.layers.Concatenate()(
        [
            pool(keras.layers.Embedding(VOCAB, DIM, name="embedding")(words)),
            pool(keras.layers.Embedding(5, 2, name="tag_embedding")(tags)),
        ]
    )
    model = keras.Model({"words": words, "tags": tags}, keras.layers.Dense(2)(hidden))
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


class Steps(keras.callbacks.Callback):
    """Counts training batches (none may run before the error)."""

    count = 0

    def on_train_batch_begin(self, batch, logs=None):
        Steps.count += 1


def split(**kwargs):
    return tl.EmbeddingFactorization(
        "embedding", rank=2, at_epoch=1, bands=1, verbose=0, **kwargs
    )


# ------------------------------------------------------------ calibration_data


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda x, y: (x, y[:100]),
            r"one row per example.*Received: calibration_data where x has 128, "
            r"y has 100 rows",
        ),
        (
            lambda x, y: (x, y, np.ones(7)),
            r"Received: calibration_data where x has 128, y has 128, "
            r"sample_weight has 7 rows",
        ),
        (
            lambda x, y: ({"words": x, "tags": x[:3]}, y),
            r"Received: calibration_data where x\['tags'\] has 3, "
            r"x\['words'\] has 128",
        ),
        (lambda x, y: (x[:0], y[:0]), "holds no examples.*with 0 rows"),
        (lambda x, y: (x, 3), r"arrays with one row.*Received: calibration_data y=3"),
    ],
    ids=["short_y", "short_sample_weight", "short_input", "empty", "scalar_y"],
)
def test_calibration_arrays_of_other_lengths_are_refused_in_the_constructor(
    make, match, data
):
    with pytest.raises(ValueError, match=match):
        split(calibration_data=make(*data))


@pytest.mark.parametrize("bad_id", [60, -2])
def test_calibration_ids_outside_the_table_are_refused_when_fit_starts(bad_id, data):
    x, y = data
    bad = x.copy()
    bad[3, 1] = bad_id
    net = model()
    Steps.count = 0
    with pytest.raises(
        ValueError,
        match=rf"`calibration_data` holds token id {bad_id}, outside the table of "
        rf"layer 'embedding' \(ids 0 to 49, input_dim=50\).*Received: "
        rf"calibration_data x\[3, 1\]={bad_id}",
    ):
        net.fit(x, y, epochs=2, callbacks=[split(calibration_data=(bad, y)), Steps()])
    assert Steps.count == 0
    assert int(net.optimizer.iterations) == 0


def test_calibration_data_as_nested_lists_of_ids(data):
    """Python lists of ids are arrays (one row per example), checked and used."""
    x, y = data
    calibration = (x[:40].tolist(), y[:40].tolist())
    callback = split(calibration_data=calibration)
    model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert callback.result.calibration_batches == 2
    with pytest.raises(ValueError, match=r"Received: calibration_data x\[0, 0\]=50"):
        bad = [[VOCAB] + row[1:] for row in calibration[0]]
        model().fit(x, y, epochs=2, callbacks=[split(calibration_data=(bad, y[:40]))])


def test_calibration_ids_are_checked_against_the_table_they_reach(data):
    """Only the input read by the split layer is checked (tags have 5 ids only)."""
    x, y = data
    tags = x % 5
    words = x.copy()
    words[0, 0] = VOCAB
    net = two_tables()
    calibration = ({"words": x, "tags": tags}, y)
    net.fit(
        {"words": x, "tags": tags},
        y,
        epochs=2,
        verbose=0,
        callbacks=[split(calibration_data=calibration)],
    )
    with pytest.raises(ValueError, match=r"Received: calibration_data x\['words'\]"):
        two_tables().fit(
            {"words": x, "tags": tags},
            y,
            epochs=2,
            callbacks=[split(calibration_data=({"words": words, "tags": tags}, y))],
        )


def test_calibration_dataset_ids_are_checked_as_they_are_read(data):
    x, y = data
    bad = x.copy()
    bad[40, 2] = 77  # batch 1 of 32 rows
    dataset = tf.data.Dataset.from_tensor_slices((bad, y)).batch(BATCH)
    with pytest.raises(
        ValueError,
        match=r"holds token id 77 \(batch 1\), outside the table of layer "
        r"'embedding'.*Received: calibration_data x\[8, 2\]=77",
    ):
        model().fit(x, y, epochs=2, callbacks=[split(calibration_data=dataset)])


# ---------------------------------------------------------------- token_counts


@pytest.mark.parametrize(
    "counts, error, match",
    [
        (np.zeros(VOCAB), ValueError, "all 0 .*Received: token_counts with sum 0"),
        (
            np.r_[np.ones(VOCAB - 1), -1.0],
            ValueError,
            r"1 of its 50 values are negative.*Received: token_counts\[49\]=-1.0",
        ),
        (
            np.r_[np.nan, np.ones(VOCAB - 1)],
            ValueError,
            r"Received: token_counts\[0\]=nan",
        ),
        (np.ones((VOCAB, 2)), ValueError, r"with shape \(50, 2\)"),
        ("abc", TypeError, "Received: token_counts='abc' \\(of type str\\)"),
    ],
    ids=["zeros", "negative", "nan", "two_dimensional", "string"],
)
def test_bad_token_counts_are_refused_in_the_constructor(counts, error, match):
    with pytest.raises(error, match=match):
        tl.EmbeddingFactorization(rank=2, at_epoch=1, token_counts=counts)
