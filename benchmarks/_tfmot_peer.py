"""TFMOT peers for `peers.py`, run in their own process (Keras 2 / `tf_keras`).

TensorFlow Model Optimization works on Keras 2 models only, and importing it with
`TF_USE_LEGACY_KERAS=1` switches `tf.keras` to `tf_keras` for the whole process, so
`peers.py` starts this script as a child and never imports it. Needs the `[peers]`
extra (`tensorflow-model-optimization`, `tf-keras`).

The child rebuilds the paper's DAN or LSTM in `tf_keras` (same layers, same weight
order, masking by an explicit `ids != 0` mask), loads the *pretrained* weights written
by the parent, wraps the embedding only in

- `prune`: `prune_low_magnitude` with `PolynomialDecay` 0 -> 90% sparsity over the
  first two retraining epochs, or
- `cluster`: `cluster_weights` with 16 clusters (k-means++ centroids),

retrains for the same epochs with the same per-step learning rates as the other
methods, keeps the best dev epoch, strips the wrappers and writes a float32 and a
dynamic-range int8 `.tflite` file with the `token_ids` `[1, seq_len]` contract.

Usage (by `peers.py`): `python _tfmot_peer.py JOB_DIR` with `JOB_DIR/job.json` and
`JOB_DIR/arrays.npz`; writes `JOB_DIR/<method>_float32.tflite`,
`JOB_DIR/<method>_int8.tflite` and `JOB_DIR/result.json`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras  # noqa: E402


class MaskedMean(tf_keras.layers.Layer):
    """Mean over the unmasked steps; zeros when all are masked (`_MaskedMean`)."""

    def call(self, inputs, mask):
        weights = tf.expand_dims(tf.cast(mask, inputs.dtype), -1)
        total = tf.reduce_sum(tf.where(weights > 0, inputs, 0.0), axis=1)
        return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


class NotPadding(tf_keras.layers.Layer):
    def call(self, ids):
        return tf.not_equal(ids, 0)


class StepTable(tf_keras.optimizers.schedules.LearningRateSchedule):
    """The parent's learning rate, one value per step."""

    def __init__(self, values):
        self.values = [float(v) for v in values]
        self._table = tf.constant(self.values, tf.float32)

    def __call__(self, step):
        index = tf.minimum(tf.cast(step, tf.int32), len(self.values) - 1)
        return tf.gather(self._table, index)

    def get_config(self):
        return {"values": self.values}


def build(job: dict, embedding_wrapper=None, *, batch_size=None, unroll=False):
    ids = tf_keras.Input(
        shape=(job["seq_len"],), batch_size=batch_size, dtype="int32", name="token_ids"
    )
    mask = NotPadding()(ids)
    embedding = tf_keras.layers.Embedding(
        job["vocab_size"], job["dim"], name="embedding"
    )
    if embedding_wrapper is not None:
        embedding = embedding_wrapper(embedding)
    x = embedding(ids)
    if job["model"] == "dan":
        x = MaskedMean()(x, mask=mask)
        for position, width in enumerate(job["hidden"], start=1):
            x = tf_keras.layers.Dense(
                width, activation="relu", name=f"hidden_{position}"
            )(x)
    else:
        x = tf_keras.layers.LSTM(
            job["units"], return_sequences=True, unroll=unroll, name="lstm"
        )(x, mask=mask)
        x = MaskedMean()(x, mask=mask)
        x = tf_keras.layers.Dropout(job["dropout"])(x)
    outputs = tf_keras.layers.Dense(
        job["num_classes"], activation="softmax", name="probs"
    )(x)
    return tf_keras.Model(ids, outputs)


def accuracy(model, x, y) -> float:
    probs = model.predict(x, batch_size=1024, verbose=0)
    return float(np.mean(probs.argmax(-1) == y))


def main(job_dir: str) -> int:
    job_dir = Path(job_dir)
    job = json.loads((job_dir / "job.json").read_text())
    arrays = np.load(job_dir / "arrays.npz")
    tf.config.threading.set_intra_op_parallelism_threads(job.get("threads", 1))
    tf.config.threading.set_inter_op_parallelism_threads(job.get("threads", 1))
    tf_keras.utils.set_random_seed(job["seed"] + 2000)
    weights = [arrays[f"weight_{i}"] for i in range(job["num_weights"])]
    steps_per_epoch = -(-len(arrays["x_train"]) // job["batch_size"])
    method = job["method"]
    callbacks = []
    if method == "prune":
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=job["sparsity"],
            begin_step=0,
            end_step=2 * steps_per_epoch,
            frequency=max(1, steps_per_epoch // 4),
        )

        def wrapper(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(
                layer, pruning_schedule=schedule
            )

        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
        strip = tfmot.sparsity.keras.strip_pruning
    elif method == "cluster":
        init = tfmot.clustering.keras.CentroidInitialization

        def wrapper(layer):
            return tfmot.clustering.keras.cluster_weights(
                layer,
                number_of_clusters=job["clusters"],
                cluster_centroids_init=init.KMEANS_PLUS_PLUS,
            )

        strip = tfmot.clustering.keras.strip_clustering
    else:
        raise ValueError(
            f"Unknown method. Expected prune or cluster. Received: {method!r}"
        )

    # Load the pretrained weights into a plain model, then wrap its embedding in
    # place (TFMOT's clone_model pattern: the wrapper sees the trained table).
    plain = build(job)
    plain.set_weights(weights)
    model = tf_keras.models.clone_model(
        plain,
        clone_function=lambda layer: (
            wrapper(layer) if layer.name == "embedding" else layer
        ),
    )
    model.compile(
        optimizer=tf_keras.optimizers.Adam(
            learning_rate=StepTable(arrays["learning_rates"]), epsilon=job["epsilon"]
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best_dev, best_weights, curve = -1.0, None, []
    start = time.perf_counter()
    for epoch in range(job["epochs"]):
        model.fit(
            arrays["x_train"],
            arrays["y_train"],
            batch_size=job["batch_size"],
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
        dev = accuracy(model, arrays["x_dev"], arrays["y_dev"])
        curve.append(dev)
        # Pruning: only epochs at the final sparsity are candidates.
        eligible = method != "prune" or epoch + 1 >= 2
        if eligible and dev > best_dev:
            best_dev, best_weights = dev, model.get_weights()
    seconds = time.perf_counter() - start
    model.set_weights(best_weights)
    stripped = strip(model)
    table = stripped.get_layer("embedding").get_weights()[0]
    final = build(job, batch_size=1, unroll=True)
    final.set_weights(stripped.get_weights())
    result = {
        "method": method,
        "dev_accuracy": best_dev,
        "dev_curve": curve,
        "train_seconds": seconds,
        "table_sparsity": float(np.mean(table == 0)),
        "table_unique_values": int(len(np.unique(table))),
        "test_accuracy_keras": accuracy(final, arrays["x_test"], arrays["y_test"]),
        "files": {},
    }
    for name, optimize in (("float32", False), ("int8", True)):
        converter = tf.lite.TFLiteConverter.from_keras_model(final)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if optimize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        path = job_dir / f"{method}_{name}.tflite"
        path.write_bytes(converter.convert())
        result["files"][name] = str(path)
    (job_dir / "result.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
