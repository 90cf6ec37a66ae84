"""`EmbeddingFactorization` under `MultiWorkerMirroredStrategy`: two local workers.

Two worker processes on 127.0.0.1 (ports picked free by the OS) train the same model
with `TF_CONFIG`; each writes what it saw. Both must split at the same epoch, to
bit-identical factors, and end with identical weights (training stayed in sync).
Integration tier: starting two TensorFlow processes and their gRPC rendezvous takes a
while.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras
    import numpy as np
    from tflite_lowrank import EmbeddingFactorization

    # Workarounds for two Keras 3.15 bugs in `fit()` under MultiWorkerMirroredStrategy
    # (single-machine strategies are not affected): the peeked first batch is reduced
    # with `strategy.reduce` as one nested structure, and scalar logs are reduced with
    # `axis=0`. Both fail before any training, with or without this package.
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def symbolic_build_from_local_batch(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(
                    lambda v: self.distribute_strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues)
                    else v,
                    next(batches),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if tf_trainer._collective_all_reduce_multi_worker(strategy) and reduction in (
            "auto",
            "mean",
        ):
            def mean(v):
                if not tf_trainer._is_per_replica_instance(v):
                    return v
                rank = len(strategy.experimental_local_results(v)[0].shape)
                return strategy.reduce("MEAN", v, axis=0 if rank else None)

            return tree.map_structure(mean, values)
        return original_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build_from_local_batch
    tf_trainer.reduce_per_replica = reduce_per_replica

    rng = np.random.default_rng(0)
    x = rng.integers(1, 60, (256, 6)).astype("int32")
    x[:64, 4:] = 0
    y = (x[:, 0] % 2).astype("int32")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).with_options(options)

    def digest(arrays):
        sha = hashlib.sha256()
        for array in arrays:
            sha.update(np.ascontiguousarray(array).tobytes())
        return sha.hexdigest()

    class Probe(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.factors = None
            self.split_epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            layer = self.model.get_layer("embedding")
            if self.factors is None and hasattr(layer, "embeddings_a"):
                self.split_epoch = epoch
                self.factors = [
                    keras.ops.convert_to_numpy(layer.embeddings_a),
                    keras.ops.convert_to_numpy(layer.embeddings_b),
                ]

    keras.utils.set_random_seed(0)
    with strategy.scope():
        inputs = keras.Input((6,), dtype="int32")
        h = keras.layers.Embedding(60, 8, mask_zero=True, name="embedding")(inputs)
        h = keras.layers.LSTM(4)(h)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
        model.compile(
            keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy()
        )
    split = EmbeddingFactorization("embedding", rank=3, at_epoch=1, verbose=0, bands=1)
    probe = Probe()
    history = model.fit(dataset, epochs=3, callbacks=[split, probe], verbose=0)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    report = {
        "task": task,
        "replicas": strategy.num_replicas_in_sync,
        "split_epoch": probe.split_epoch,
        "result_epoch": split.result.epoch,
        "rank": split.result.rank,
        "factors": digest(probe.factors),
        "factor_values": [f.tolist() for f in probe.factors],
        "final_weights": digest(model.get_weights()),
        "loss": history.history["loss"],
        "iterations": int(model.optimizer.iterations.numpy()),
    }
    with open(sys.argv[1], "w") as file:
        json.dump(report, file)
    """
)


def _free_ports(count):
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.integration
def test_embedding_factorization_two_workers_split_identically_and_stay_in_sync(
    tmp_path,
):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(config),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONWARNINGS": "ignore",
            "CUDA_VISIBLE_DEVICES": "",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, str(script), str(tmp_path / f"worker{index}.json")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    reports = [
        json.loads((tmp_path / f"worker{index}.json").read_text()) for index in range(2)
    ]
    first, second = reports
    assert first["replicas"] == second["replicas"] == 2
    # Both split after the first epoch, at the same step, to the same factors.
    assert first["split_epoch"] == second["split_epoch"] == 1
    assert first["result_epoch"] == second["result_epoch"] == 1
    assert first["rank"] == second["rank"] == 3
    assert first["factors"] == second["factors"]
    np.testing.assert_array_equal(
        np.asarray(first["factor_values"][0]), np.asarray(second["factor_values"][0])
    )
    # Training after the split stayed in sync: same steps, same weights, same losses.
    assert first["iterations"] == second["iterations"]
    assert first["final_weights"] == second["final_weights"]
    np.testing.assert_allclose(first["loss"], second["loss"], rtol=1e-6)
