"""Exports a finished run as the assets of the Android demo app (`android_demo/`).

The assets contract is in `docs/contracts.md` ("Android assets"): seven files,
`baseline.tflite`, `compressed.tflite`, `vocab.txt`, `labels.txt`, `test_set.tsv`,
`golden.jsonl` and `manifest.json`, which the app's `AssetBundle.load` checks before
it shows anything. `export_android_assets` writes them; `check_android_assets` runs the
same checks on the Python side (and replays `golden.jsonl` in LiteRT).

The run folder it reads is what `tflite-lowrank demo` writes
(`tflite_lowrank.apps.demo.run`); only these files are used:

```
RUN_DIR/
  results.json          optional: `["android"]` names the two files to ship,
                        {"baseline": "baseline_float32.tflite",
                         "compressed": "compressed_dynamic.tflite"}, and
                        `["models"][stem]` gives each file's `rank` and
                        `quantization`. Without it, the files are the only matches
                        of `baseline*.tflite` and `compressed*.tflite`, and rank and
                        quantization are read from the files.
  baseline*.tflite      the uncompressed model(s)
  compressed*.tflite    the low-rank model(s)
  vocab.txt             the tokenizer's vocabulary (`text.Tokenizer.save`); a Keras
                        `TextVectorization` vocabulary (empty first line, then
                        `[UNK]`) exports with that layer's tokenizer rules
  labels.txt            the class names (`text.save_labels`)
  test.tsv              the test split, `label<TAB>text` per line (label name or
                        class index); `test_set.tsv` or `test.jsonl` (lines of
                        {"text": ..., "label": ...}) are read too
```

Example:

```python
from tflite_lowrank.apps.android.export import export_android_assets

export = export_android_assets("runs/demo", "android_demo/app/src/main/assets")
print(export.manifest["models"]["compressed"]["size_bytes"], export.num_golden)
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tflite_lowrank.apps.android.assets import (
    ASSET_FILES,
    ASSET_MODEL_FILES,
    DATA_FILES,
    GOLDEN_ATOL,
    GOLDEN_FILENAME,
    MANIFEST_FILENAME,
    MANIFEST_FORMAT_VERSION,
    MODEL_KEYS,
    TEST_SET_FILENAME,
    _build_manifest,
    _check_assets,
    _check_labels,
)
from tflite_lowrank.apps.android.run_folder import (
    _check_models_fit,
    _read_test_split,
    _select_models,
)
from tflite_lowrank.data.tokenizer import Tokenizer
from tflite_lowrank.data.vocab_files import VOCAB_FILENAME, load_labels, save_labels
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert import interpreter as _interpreter
from tflite_lowrank.utils.checks import check_bool as _check_bool
from tflite_lowrank.utils.checks import check_dir as _check_dir
from tflite_lowrank.utils.checks import check_int as _check_int
from tflite_lowrank.utils.checks import check_path as _check_path
from tflite_lowrank.utils.files import write_tsv

__all__ = [
    "ASSET_FILES",
    "DATA_FILES",
    "MANIFEST_FORMAT_VERSION",
    "GOLDEN_ATOL",
    "GOLDEN_FILENAME",
    "MANIFEST_FILENAME",
    "ASSET_MODEL_FILES",
    "MODEL_KEYS",
    "TEST_SET_FILENAME",
    "AndroidExport",
    "check_android_assets",
    "export_android_assets",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AndroidExport:
    """What `export_android_assets` wrote.

    Args:
        assets_dir: String. The folder that now holds the assets.
        files: Tuple of strings. The file names written, `ASSET_FILES`.
        manifest: Dict. The content of `manifest.json`.
        num_test: Integer. Lines of `test_set.tsv`.
        num_golden: Integer. Lines of `golden.jsonl`.
        max_golden_difference: Float. Largest |difference| between the golden
            probabilities and a fresh LiteRT replay of them (at most `GOLDEN_ATOL`).
    """

    assets_dir: str
    files: tuple[str, ...]
    manifest: dict[str, Any]
    num_test: int
    num_golden: int
    max_golden_difference: float

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            "assets_dir": self.assets_dir,
            "files": list(self.files),
            "manifest": self.manifest,
            "num_test": self.num_test,
            "num_golden": self.num_golden,
            "max_golden_difference": self.max_golden_difference,
        }


def export_android_assets(
    run_dir: os.PathLike[str] | str,
    assets_dir: os.PathLike[str] | str,
    *,
    overwrite: bool = False,
    num_golden: int = 32,
    max_test_examples: int | None = None,
) -> AndroidExport:
    """Writes the Android demo's assets from a finished run folder.

    Reads the two models, `vocab.txt`, `labels.txt` and the test split of `run_dir`
    (layout in the module docstring), checks that they fit together (same `seq_len`
    and labels, vocabulary size equal to the models' embedding rows, the I/O
    contract), runs both models in LiteRT on the first `num_golden` test sentences,
    and writes the seven files of the assets contract (`docs/contracts.md`).

    Everything is written to a temporary folder beside `assets_dir` and checked with
    `check_android_assets` first; only then are the files moved into `assets_dir`. A
    failed export leaves `assets_dir` as it was.

    Args:
        run_dir: Path-like. A finished run folder.
        assets_dir: Path-like. Output folder, usually
            `android_demo/app/src/main/assets`; created if missing (its parent must
            exist).
        overwrite: Boolean. Replace asset files already in `assets_dir`. Other files
            there are never touched. Defaults to `False`.
        num_golden: Integer. Test sentences replayed in `golden.jsonl` (fewer if the
            test split is smaller). Defaults to `32`.
        max_test_examples: Integer or None. Keep only the first this many test
            sentences in `test_set.tsv` (the app's benchmark runs them all). None
            keeps all. Defaults to `None`.

    Returns:
        An `AndroidExport`.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for files that break the contract or do not fit together.
        FileNotFoundError: if `run_dir`, one of its files, or the parent of
            `assets_dir` does not exist.
        FileExistsError: if an asset file exists in `assets_dir` and `overwrite`
            is False.

    Example:

    ```python
    export = export_android_assets(
        "runs/demo", "android_demo/app/src/main/assets", overwrite=True
    )
    print(export.manifest["seq_len"], export.num_test)
    ```
    """
    # 1. Arguments and the destination, before reading anything large.
    _check_bool("overwrite", overwrite)
    num_golden = _check_int("num_golden", num_golden, minimum=1)
    if max_test_examples is not None:
        max_test_examples = _check_int(
            "max_test_examples", max_test_examples, minimum=1
        )
    run_dir = _check_dir("run_dir", run_dir)
    assets_dir = _check_path("assets_dir", assets_dir)
    if not assets_dir.parent.is_dir():
        raise FileNotFoundError(
            "The parent folder of `assets_dir` must exist. "
            f"Received: assets_dir={str(assets_dir)!r}"
        )
    if assets_dir.exists() and not assets_dir.is_dir():
        raise ValueError(
            "`assets_dir` is a file, not a folder. "
            f"Received: assets_dir={str(assets_dir)!r}"
        )
    existing = [name for name in ASSET_FILES if (assets_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"`assets_dir` already holds asset files {existing}; pass "
            "`overwrite=True` (`--overwrite`) to replace them. "
            f"Received: assets_dir={str(assets_dir)!r}"
        )

    # 2. The run's files, and whether they fit together.
    model_paths, metadata = _select_models(run_dir)
    # A truncated or corrupted file is a ValueError naming it.
    read = {
        key: _flatbuffer.read_and_inspect(path, name=f"{key} model")
        for key, path in model_paths.items()
    }
    contents = {key: content for key, (content, _) in read.items()}
    infos = {key: info for key, (_, info) in read.items()}
    seq_len, num_labels = _check_models_fit(infos, model_paths)
    if not (run_dir / VOCAB_FILENAME).is_file():
        raise FileNotFoundError(
            f"The run folder has no {VOCAB_FILENAME}, the vocabulary the models were "
            "trained with (`tflite-lowrank demo` writes it). "
            f"Received: run_dir={str(run_dir)!r}"
        )
    tokenizer = Tokenizer.load(run_dir, seq_len=seq_len)
    label_names = load_labels(run_dir)
    _check_labels(label_names, num_labels, run_dir)
    for key, info in infos.items():
        rows = info.vocabulary_size
        if rows is not None and rows != tokenizer.vocabulary_size:
            raise ValueError(
                f"The {key} model's embedding table has {rows} rows but "
                f"{VOCAB_FILENAME} has {tokenizer.vocabulary_size} tokens; the "
                "vocabulary and the models must come from the same run. "
                f"Received: run_dir={str(run_dir)!r}"
            )
    texts, labels = _read_test_split(run_dir, label_names)
    if max_test_examples is not None:
        texts, labels = texts[:max_test_examples], labels[:max_test_examples]

    # 3. Golden outputs from LiteRT, as the app will compute them.
    num_golden = min(num_golden, len(texts))
    golden_ids = tokenizer.encode(texts[:num_golden])
    golden_probabilities = {
        key: _interpreter.Runner(
            _interpreter.make_interpreter(model_content=content)
        ).predict(golden_ids)
        for key, content in contents.items()
    }

    # 4. Write, check, then move into place.
    staging = Path(
        tempfile.mkdtemp(prefix=f".{assets_dir.name}-export-", dir=assets_dir.parent)
    )
    try:
        for key in MODEL_KEYS:
            (staging / ASSET_MODEL_FILES[key]).write_bytes(contents[key])
        tokenizer.save(staging)
        save_labels(label_names, staging)
        write_tsv(
            staging / TEST_SET_FILENAME,
            (
                (label_names[label], text)
                for text, label in zip(texts, labels, strict=True)
            ),
        )
        _write_text(
            staging / GOLDEN_FILENAME,
            "".join(
                json.dumps(
                    {
                        "text": texts[index],
                        "label": int(labels[index]),
                        "token_ids": [int(i) for i in golden_ids[index]],
                        "probabilities": {
                            key: [float(p) for p in golden_probabilities[key][index]]
                            for key in MODEL_KEYS
                        },
                    },
                    allow_nan=False,
                )
                + "\n"
                for index in range(num_golden)
            ),
        )
        manifest = _build_manifest(
            staging,
            infos=infos,
            seq_len=seq_len,
            num_labels=num_labels,
            vocab_size=tokenizer.vocabulary_size,
            num_golden=num_golden,
            metadata=metadata,
            tokenizer_version=tokenizer.version,
        )
        _write_text(staging / MANIFEST_FILENAME, json.dumps(manifest, indent=2) + "\n")
        max_difference = _check_assets(staging, replay=True)

        assets_dir.mkdir(exist_ok=True)
        # The manifest goes last, so an interrupted move never looks complete.
        for name in ASSET_FILES:
            os.replace(staging / name, assets_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "Wrote the Android assets to %s (%d test sentences, %d golden, max golden "
        "replay difference %.3g).",
        assets_dir,
        len(texts),
        num_golden,
        max_difference,
    )
    return AndroidExport(
        assets_dir=str(assets_dir),
        files=ASSET_FILES,
        manifest=manifest,
        num_test=len(texts),
        num_golden=num_golden,
        max_golden_difference=max_difference,
    )


def check_android_assets(
    assets_dir: os.PathLike[str] | str, *, replay: bool = True
) -> dict[str, Any]:
    """Checks an assets folder against the contract, as the app does.

    The checks of the app's `AssetBundle.load` (files present, sizes and sha256 as in
    the manifest, versions, vocabulary rules and size, label count, model I/O read
    from the files, `test_set.tsv` and `golden.jsonl` readable), plus: the golden
    token ids are the Python tokenizer's, and with `replay=True` both models are run
    in LiteRT on the golden sentences and must give the golden probabilities within
    `GOLDEN_ATOL`.

    Args:
        assets_dir: Path-like. A folder written by `export_android_assets`.
        replay: Boolean. Also run the models on the golden sentences. Defaults to
            `True`.

    Returns:
        The parsed `manifest.json`.

    Raises:
        FileNotFoundError: if the folder or an asset file is missing.
        ValueError: naming the first check that fails.

    Example:

    ```python
    manifest = check_android_assets("android_demo/app/src/main/assets")
    print(manifest["models"]["compressed"]["rank"])
    ```
    """
    _check_bool("replay", replay)
    folder = _check_dir("assets_dir", assets_dir)
    _check_assets(folder, replay=replay)
    return json.loads((folder / MANIFEST_FILENAME).read_text(encoding="utf-8"))


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)
