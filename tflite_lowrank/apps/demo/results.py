"""The demo's settings, the files of its run folder, and the results it records.

Private: `tflite_lowrank.apps.demo.run` re-exports every public name here, and that is
where they are documented and imported from (`from tflite_lowrank.apps.demo.run import
DemoResult`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tflite_lowrank.data.vocab_files import LABELS_FILENAME, VOCAB_FILENAME
from tflite_lowrank.version import __version__

RESULTS_FORMAT_VERSION = 1
"""Version of the `results.json` layout."""

MODELS = ("dan", "lstm")
"""Model names accepted by `run_demo`."""

BATCH_SIZE = 50
"""The paper's batch size."""

LEARNING_RATE = 1e-3
"""Adam's learning rate for the baseline and before the split (Keras' epsilon)."""

SEQ_LEN = 40
"""Tokens per text, the paper's maximum length (longer texts are cut)."""

DEFAULT_EPOCHS = {"dan": (8, 3), "lstm": (4, 2)}
"""`(epochs, split_epoch)` per model when not given: the paper's 3 + 5 for the DAN;
2 + 2 for the LSTM, whose epochs take much longer (epoch times of both in
`benchmarks/README.md`)."""

QUICK_SETTINGS = {"max_train_samples": 500, "epochs": 2, "split_epoch": 1}
"""What `tflite-lowrank demo --quick` passes: a smoke test for CI (under a minute)."""

KERAS_FILES = {"baseline": "baseline.keras", "compressed": "compressed.keras"}
TFLITE_FILES = {
    "baseline_float32": "baseline_float32.tflite",
    "baseline_dynamic": "baseline_dynamic.tflite",
    "compressed_float32": "compressed_float32.tflite",
    "compressed_dynamic": "compressed_dynamic.tflite",
}
"""The four `.tflite` files, by name, in table order; the first is the reference
(`tflite_lowrank.apps.demo.TFLITE_FILES`)."""

TEST_FILENAME = "test.tsv"
RESULTS_JSON = "results.json"
RESULTS_MARKDOWN = "results.md"
PLOT_FILENAME = "comparison.png"
ANDROID_PAIR = {"baseline": "baseline_float32", "compressed": "compressed_dynamic"}
"""The two models `export-android` should ship (named in `results.json["android"]`)."""

RUN_FILES = (
    *KERAS_FILES.values(),
    *TFLITE_FILES.values(),
    VOCAB_FILENAME,
    LABELS_FILENAME,
    TEST_FILENAME,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    PLOT_FILENAME,
)
"""Every file `run_demo` writes into `output_dir`."""


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    """How one of the two Keras models was trained.

    Args:
        name: String. `"baseline"` or `"compressed"`.
        epochs: Integer. Epochs trained.
        best_epoch: Integer. The epoch (1-based) whose weights were kept: the best
            dev accuracy (after the split, for the compressed model).
        dev_accuracy: Float. Keras dev accuracy of the kept weights.
        dev_accuracy_per_epoch: Tuple of floats. Dev accuracy after each epoch.
        train_accuracy_per_epoch: Tuple of floats. Training accuracy of each epoch.
        seconds: Float. Wall time of `fit()`.
        factorization: Dictionary or None. `EmbeddingFactorization.result.to_dict()`
            for the compressed model (rank, parameters, reconstruction error).

    Example:

    ```python
    baseline, compressed = run_demo(output_dir="runs/demo").training
    print(compressed.best_epoch, compressed.factorization["relative_error"])
    ```
    """

    name: str
    epochs: int
    best_epoch: int
    dev_accuracy: float
    dev_accuracy_per_epoch: tuple[float, ...]
    train_accuracy_per_epoch: tuple[float, ...]
    seconds: float
    factorization: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            **dataclasses.asdict(self),
            "dev_accuracy_per_epoch": list(self.dev_accuracy_per_epoch),
            "train_accuracy_per_epoch": list(self.train_accuracy_per_epoch),
        }


@dataclasses.dataclass(frozen=True)
class DemoModel:
    """One `.tflite` file of the demo with its measurements on the test split.

    Args:
        name: String. The file's stem, a key of `TFLITE_FILES`.
        file: String. File name inside the run folder.
        keras_model: String. The `.keras` file it was converted from.
        rank: Integer or None. Inner dimension of the factorized embedding; None
            for the full table.
        quantization: String. `"float32"` or `"dynamic"` (int8 weights).
        size_bytes: Integer. File size.
        embedding_bytes: Integer. Bytes of the embedding table (or its two
            factors) inside the file.
        accuracy: Float. LiteRT test accuracy.
        accuracy_delta: Float. `accuracy` minus the reference's.
        agreement: Float. Share of test rows predicted as the reference does.
        latency_p50_ms: Float. Median latency of one row, 1 thread.
        latency_p90_ms: Float. 90th percentile.
        load_time_ms: Float. Creating the interpreter.
        peak_memory_bytes: Integer. Peak resident memory of the benchmark process
            (Python and NumPy included).
        model_memory_bytes: Integer. What loading and running the model added.
        max_output_difference: Float. Largest `|tflite - keras|` probability on the
            conversion check rows.

    Example:

    ```python
    for model in run_demo(output_dir="runs/demo").models:
        print(model.file, model.size_bytes, f"{model.accuracy:.2%}")
    ```
    """

    name: str
    file: str
    keras_model: str
    rank: int | None
    quantization: str
    size_bytes: int
    embedding_bytes: int
    accuracy: float
    accuracy_delta: float
    agreement: float
    latency_p50_ms: float
    latency_p90_ms: float
    load_time_ms: float
    peak_memory_bytes: int
    model_memory_bytes: int
    max_output_difference: float

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What `run_demo` did and measured; `to_dict()` is `results.json`.

    Args:
        output_dir: String. The run folder.
        dataset: String. Dataset name.
        model: String. `"dan"` or `"lstm"`.
        compression: Float. Fraction of the embedding's parameters to remove (the
            rank rounds down, so a little more is removed).
        rank: Integer. Rank of the factorized embedding.
        epochs: Integer. Epochs of each training run.
        split_epoch: Integer. Epochs on the full table before the split.
        seed: Integer. Seed of initialisation, batch order and subsampling.
        max_train_samples: Integer or None. Training texts used (None: all).
        seq_len: Integer. Tokens per text.
        vocab_size: Integer. Lines of `vocab.txt` (embedding rows).
        label_names: Tuple of str. Lines of `labels.txt`.
        num_train: Integer. Training texts used.
        num_dev: Integer. Dev texts (model selection).
        num_test: Integer. Test texts (the benchmark).
        training: Tuple of two `TrainingSummary`: baseline, compressed.
        models: Tuple of four `DemoModel`, in table order, the reference first.
        stage_seconds: Dictionary. Wall time of each stage, and `"total"`.
        environment: Dictionary. Library versions and the machine.
        comparison: `benchmark.Comparison` of the four files (paths in the run
            folder); `comparison.plot(...)` draws `comparison.png`. Not in
            `to_dict` (the `models` hold its numbers).
        train_basis: Boolean or None. The callback's `train_basis` (`False`:
            fixed bases; `None`: the callback's default).
        calibrate: Boolean. Whether the split was weighted by calibration batches.
        weighting: String. The callback's `weighting` (`"consumer"`: weighted by the
            input kernel of the layer that reads the vectors; `"auto"`: the
            callback's default). What the split did is in
            `training[1].factorization` (`train_basis`, `consumer`).

    Example:

    ```python
    result = run_demo(output_dir="runs/demo")
    print(result.to_markdown())
    best = max(result.models, key=lambda m: m.accuracy)
    ```
    """

    output_dir: str
    dataset: str
    model: str
    compression: float
    rank: int
    epochs: int
    split_epoch: int
    seed: int
    max_train_samples: int | None
    seq_len: int
    vocab_size: int
    label_names: tuple[str, ...]
    num_train: int
    num_dev: int
    num_test: int
    training: tuple[TrainingSummary, ...]
    models: tuple[DemoModel, ...]
    stage_seconds: dict[str, float]
    environment: dict[str, str]
    comparison: Any = dataclasses.field(default=None, repr=False, compare=False)
    train_basis: bool | None = None
    calibrate: bool = False
    weighting: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """Returns `results.json`: settings, data, training, models and timings.

        Keys, in order: `format_version`, `created_by`, `settings` (the arguments,
        `batch_size`, `learning_rate`, `seq_len`), `data` (sizes, labels,
        vocabulary), `rank`, `training` (`baseline`, `compressed`: see
        `TrainingSummary`), `reference` (the stem of the reference file), `models`
        (stem -> `DemoModel.to_dict()`, table order), `android` (the pair for
        `export-android`: `{"baseline": file, "compressed": file}`),
        `stage_seconds` and `environment`.
        """
        return {
            "format_version": RESULTS_FORMAT_VERSION,
            "created_by": f"tflite_lowrank {__version__}",
            "settings": {
                "dataset": self.dataset,
                "model": self.model,
                "compression": self.compression,
                "epochs": self.epochs,
                "split_epoch": self.split_epoch,
                "seed": self.seed,
                "max_train_samples": self.max_train_samples,
                "batch_size": BATCH_SIZE,
                "learning_rate": LEARNING_RATE,
                "seq_len": self.seq_len,
                "train_basis": self.train_basis,
                "calibrate": self.calibrate,
                "weighting": self.weighting,
            },
            "data": {
                "num_train": self.num_train,
                "num_dev": self.num_dev,
                "num_test": self.num_test,
                "label_names": list(self.label_names),
                "vocab_size": self.vocab_size,
                "vocabulary": "training tokens that GloVe 6B knows, plus <pad>, <unk>",
            },
            "rank": self.rank,
            "training": {summary.name: summary.to_dict() for summary in self.training},
            "reference": self.models[0].name,
            "models": {model.name: model.to_dict() for model in self.models},
            "android": {key: TFLITE_FILES[stem] for key, stem in ANDROID_PAIR.items()},
            "stage_seconds": dict(self.stage_seconds),
            "environment": dict(self.environment),
        }

    def to_markdown(self) -> str:
        """Returns the comparison as a Markdown table (what the CLI prints).

        Columns: model, embedding rank, weights, LiteRT test accuracy and its
        difference from the reference (percentage points), file size and its ratio
        to the reference, embedding bytes, p50 latency at 1 thread and peak memory
        of the benchmark process.
        """
        lines = [
            "| model | rank | weights | accuracy | Δ accuracy | file (KB) | "
            "size ratio | embedding (KB) | p50 latency (µs) | peak memory (MB) |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        reference = self.models[0]
        for index, model in enumerate(self.models):
            name = f"{model.name} (reference)" if index == 0 else model.name
            weights = "int8" if model.quantization == "dynamic" else model.quantization
            lines.append(
                f"| {name} | {model.rank if model.rank is not None else 'full'} | "
                f"{weights} | {model.accuracy:.2%} | "
                f"{100 * model.accuracy_delta:+.1f} pt | "
                f"{model.size_bytes / 1024:,.1f} | "
                f"{model.size_bytes / reference.size_bytes:.3f} | "
                f"{model.embedding_bytes / 1024:,.1f} | "
                f"{1000 * model.latency_p50_ms:,.1f} | "
                f"{model.peak_memory_bytes / 2**20:.1f} |"
            )
        return "\n".join(lines)
