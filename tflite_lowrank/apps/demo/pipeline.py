"""The demo's stages, run in order inside a staging folder, and the run folder moves.

Private helpers of `tflite_lowrank.apps.demo.run`, whose `run_demo` checks the
arguments and calls `_run` inside `_make_staging_dir(output_dir)`: data and tokenizer
(`training._load_data`), the two trainings (`training._train`), the four conversions
and the LiteRT comparison (`export`), then `results.json`, `results.md` and
`comparison.png` (`report`). `_move_run` moves the finished files into the run folder.
TensorFlow is imported when the data stage starts, not before.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from pathlib import Path

from tflite_lowrank.apps.demo.export import (
    _benchmark_models,
    _convert_models,
    _demo_model,
    _relocate,
)
from tflite_lowrank.apps.demo.report import (
    _environment,
    _epochs,
    _Progress,
    _write_results,
)
from tflite_lowrank.apps.demo.results import (
    PLOT_FILENAME,
    RUN_FILES,
    SEQ_LEN,
    TFLITE_FILES,
    DemoResult,
)


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
    train_basis: bool | None = None,
    calibrate: bool = False,
    weighting: str = "auto",
) -> DemoResult:
    start = time.perf_counter()
    seconds: dict[str, float] = {}

    title = f"Loading {dataset}, GloVe 6B 50-d and TensorFlow"
    with report.stage(title, seconds, "data") as note:
        # TensorFlow and Keras are imported here, in the timed data stage.
        from tflite_lowrank.apps.demo.training import _load_data, _train
        from tflite_lowrank.training.calibration import calibration_sample
        from tflite_lowrank.training.callback import EmbeddingFactorization

        data = _load_data(
            staging,
            note,
            dataset=dataset,
            compression=compression,
            seed=seed,
            max_train_samples=max_train_samples,
        )
    rank = data.rank

    def train(name: str, title: str, split):
        with report.stage(title, seconds, f"train_{name}") as note:
            return _train(
                report,
                staging,
                data,
                note,
                name=name,
                model_name=model_name,
                epochs=epochs,
                seed=seed,
                split=split,
            )

    upper = model_name.upper()
    options = (
        ("" if train_basis is not False else ", bases fixed")
        + (", weighted by calibration batches" if calibrate else "")
        + (
            ", weighted by the next layer's input kernel"
            if weighting == "consumer"
            else ""
        )
    )
    baseline, baseline_summary = train(
        "baseline", f"Training the baseline {upper} ({_epochs(epochs)})", None
    )
    compressed, compressed_summary = train(
        "compressed",
        f"Training the compressed {upper}: {_epochs(split_epoch)} on the full "
        f"table, split to rank {rank} (compression {compression:g}), "
        f"{_epochs(epochs - split_epoch)} on the factors with CALR{options}",
        functools.partial(
            EmbeddingFactorization,
            "embedding",
            compression=compression,
            at_epoch=split_epoch,
            train_basis=train_basis,
            calibration_data=(
                calibration_sample(data.x_train, data.y_train, seed=seed)
                if calibrate
                else None
            ),
            weighting=weighting,
        ),
    )
    trained = {"baseline": baseline, "compressed": compressed}

    with report.stage(
        "Converting to .tflite: float32, dynamic (int8 weights)", seconds, "convert"
    ):
        conversions = _convert_models(report, staging, trained, data.x_dev)

    title = f"Benchmarking the 4 files in LiteRT on {len(data.x_test):,} test texts"
    with report.stage(title + " (1 thread)", seconds, "benchmark"):
        comparison = _benchmark_models(
            report, staging, data.x_test, data.dataset.test.labels
        )

    with report.stage(
        "Writing results.json, results.md, comparison.png", seconds, None
    ):
        models = tuple(
            _demo_model(stem, row, benchmark, conversions[stem], rank)
            for stem, row, benchmark in zip(
                TFLITE_FILES, comparison.rows, comparison.results, strict=True
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
            vocab_size=data.tokenizer.vocabulary_size,
            label_names=tuple(data.dataset.label_names),
            num_train=data.num_train,
            num_dev=len(data.x_dev),
            num_test=len(data.x_test),
            training=(baseline_summary, compressed_summary),
            models=models,
            stage_seconds=seconds,
            environment=_environment(),
            comparison=comparison,
            train_basis=train_basis,
            calibrate=calibrate,
            weighting=weighting,
        )
        _write_results(staging, result)
    return result


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
