"""Exports a finished run as the assets of the Android demo app (`android_demo/`).

The assets contract is in `docs/contracts.md` ("Android assets"): seven files,
`baseline.tflite`, `compressed.tflite`, `vocab.txt`, `labels.txt`, `test_set.tsv`,
`golden.jsonl` and `manifest.json`, which the app's `AssetBundle.load` checks before
it shows anything. `export_android_assets` writes them; `check_android_assets` runs the
same checks on the Python side (and replays `golden.jsonl` in LiteRT).

The run folder it reads is what `tflite-lowrank demo` writes (`tflite_lowrank.demo`);
only these files are used:

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
  vocab.txt             the tokenizer's vocabulary (`text.Tokenizer.save`)
  labels.txt            the class names (`text.save_labels`)
  test.tsv              the test split, `label<TAB>text` per line (label name or
                        class index); `test_set.tsv` or `test.jsonl` (lines of
                        {"text": ..., "label": ...}) are read too
```

Example:

```python
from tflite_lowrank.android import export_android_assets

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tflite_lowrank import _litert
from tflite_lowrank._android_assets import (
    ASSET_FILES,
    DATA_FILES,
    FORMAT_VERSION,
    GOLDEN_ATOL,
    GOLDEN_FILENAME,
    MANIFEST_FILENAME,
    MODEL_FILES,
    MODEL_KEYS,
    TEST_SET_FILENAME,
    _check_assets,
    _check_labels,
    _digest,
    _read_text,
    _tensor_entry,
)
from tflite_lowrank._checks import check_bool as _check_bool
from tflite_lowrank._checks import check_dir as _check_dir
from tflite_lowrank._checks import check_int as _check_int
from tflite_lowrank._checks import check_path as _check_path
from tflite_lowrank.text import (
    LABELS_FILENAME,
    TOKENIZER_VERSION,
    VOCAB_FILENAME,
    Tokenizer,
    load_labels,
    save_labels,
)

__all__ = [
    "ASSET_FILES",
    "DATA_FILES",
    "FORMAT_VERSION",
    "GOLDEN_ATOL",
    "GOLDEN_FILENAME",
    "MANIFEST_FILENAME",
    "MODEL_FILES",
    "MODEL_KEYS",
    "TEST_SET_FILENAME",
    "AndroidExport",
    "check_android_assets",
    "export_android_assets",
]

logger = logging.getLogger(__name__)

_TEST_SPLIT_FILES = ("test.tsv", TEST_SET_FILENAME, "test.jsonl")
_RESULTS_FILE = "results.json"
_WHITESPACE_IN_TSV = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


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
    _check_int("num_golden", num_golden, minimum=1)
    if max_test_examples is not None:
        _check_int("max_test_examples", max_test_examples, minimum=1)
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
    contents = {
        key: _litert.read_tflite(path, name=f"{key} model")
        for key, path in model_paths.items()
    }
    infos = {key: _litert.inspect_model(content) for key, content in contents.items()}
    seq_len, num_labels = _check_models_fit(infos, model_paths)
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
        key: _litert.Runner(_litert.make_interpreter(model_content=content)).predict(
            golden_ids
        )
        for key, content in contents.items()
    }

    # 4. Write, check, then move into place.
    staging = Path(
        tempfile.mkdtemp(prefix=f".{assets_dir.name}-export-", dir=assets_dir.parent)
    )
    try:
        for key in MODEL_KEYS:
            (staging / MODEL_FILES[key]).write_bytes(contents[key])
        tokenizer.save(staging)
        save_labels(label_names, staging)
        _write_text(
            staging / TEST_SET_FILENAME,
            "".join(
                f"{label_names[label]}\t{text.translate(_WHITESPACE_IN_TSV)}\n"
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


def _build_manifest(
    folder: Path,
    *,
    infos: dict[str, _litert.ModelInfo],
    seq_len: int,
    num_labels: int,
    vocab_size: int,
    num_golden: int,
    metadata: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    from tflite_lowrank import __version__

    baseline_width = _embedding_width(infos["baseline"])
    models = {}
    for key in MODEL_KEYS:
        info = infos[key]
        described = metadata.get(key, {})
        width = _embedding_width(info)
        rank = None
        if key == "compressed" and width is not None and baseline_width is not None:
            rank = width if width < baseline_width else None
        size, digest = _digest(folder / MODEL_FILES[key])
        models[key] = {
            "file": MODEL_FILES[key],
            "sha256": digest,
            "size_bytes": size,
            "rank": described.get("rank", rank),
            "quantization": described.get("quantization", _quantization(info)),
            "vocab_size": info.vocabulary_size,
            "input": _tensor_entry(info.inputs[0]),
            "output": _tensor_entry(info.outputs[0]),
        }
    files = {}
    for name in DATA_FILES:
        size, digest = _digest(folder / name)
        files[name] = {"sha256": digest, "size_bytes": size}
    return {
        "format_version": FORMAT_VERSION,
        "tokenizer": TOKENIZER_VERSION,
        "seq_len": seq_len,
        "num_labels": num_labels,
        "vocab_size": vocab_size,
        "models": models,
        "files": files,
        "num_golden": num_golden,
        "created_by": f"tflite_lowrank {__version__}",
    }


def _embedding_width(info: _litert.ModelInfo) -> int | None:
    """Columns of the gathered table: the embedding dim, or the rank of factors."""
    tables = [table for table in info.embedding_tables if len(table.shape) == 2]
    return min(table.shape[1] for table in tables) if tables else None


def _quantization(info: _litert.ModelInfo) -> str:
    """The `convert_to_tflite` mode that explains how the embedding is stored."""
    dtypes = {table.dtype for table in info.embedding_tables}
    if "int4" in dtypes:
        return "int4"
    if "float16" in dtypes:
        return "float16"
    if "int8" in dtypes:
        return "int8" if "QUANTIZE" in info.ops else "dynamic"
    return "float32"


def _check_models_fit(
    infos: dict[str, _litert.ModelInfo], paths: dict[str, Path]
) -> tuple[int, int]:
    shapes = {}
    for key, info in infos.items():
        problems = _litert.contract_problems(info) + [
            f"operator {op} is not a LiteRT builtin"
            for op in _litert.builtin_problems(info)
        ]
        if problems:
            raise ValueError(
                f"The {key} model breaks the I/O contract of docs/contracts.md: "
                + "; ".join(problems)
                + f". Received: {key} model={str(paths[key])!r}"
            )
        shapes[key] = (info.inputs[0].shape[1], info.outputs[0].shape[1])
    if len(set(shapes.values())) != 1:
        raise ValueError(
            "The two models must take the same seq_len and output the same number "
            "of labels: baseline (seq_len, num_labels)="
            f"{shapes['baseline']}, compressed {shapes['compressed']}. "
            f"Received: baseline model={str(paths['baseline'])!r}, compressed "
            f"model={str(paths['compressed'])!r}"
        )
    seq_len, num_labels = shapes["baseline"]
    return int(seq_len), int(num_labels)


def _find_model(run_dir: Path, key: str) -> Path:
    matches = sorted(run_dir.glob(f"{key}*.tflite"))
    if len(matches) != 1:
        found = [path.name for path in matches]
        raise (FileNotFoundError if not matches else ValueError)(
            f"The run folder must hold exactly one `{key}*.tflite` file, found "
            f"{found}. Received: run_dir={str(run_dir)!r}"
        )
    return matches[0]


def _read_test_split(
    run_dir: Path, label_names: Sequence[str]
) -> tuple[list[str], list[int]]:
    path = next(
        (run_dir / name for name in _TEST_SPLIT_FILES if (run_dir / name).is_file()),
        None,
    )
    if path is None:
        raise FileNotFoundError(
            f"The run folder has no test split; expected one of {_TEST_SPLIT_FILES}. "
            f"Received: run_dir={str(run_dir)!r}"
        )
    rows: list[tuple[str, Any]] = []
    content = _read_text(path)
    if path.suffix == ".jsonl":
        for line in content.splitlines():
            if line.strip():
                record = json.loads(line)
                rows.append((record["text"], record["label"]))
    else:
        for number, line in enumerate(content.split("\n"), start=1):
            if not line:
                continue
            label, tab, text = line.partition("\t")
            if not tab:
                raise ValueError(
                    f"{path.name} line {number} must be `label<TAB>text`. "
                    f"Received: line={line[:60]!r}"
                )
            rows.append((text, label))
    if not rows:
        raise ValueError(f"The test split is empty. Received: path={str(path)!r}")
    texts, labels = [], []
    for text, label in rows:
        texts.append(text)
        labels.append(_label_index(label, label_names, path))
    return texts, labels


def _label_index(label: Any, label_names: Sequence[str], path: Path) -> int:
    if isinstance(label, str) and label in label_names:
        return label_names.index(label)
    try:
        index = int(label)
    except (TypeError, ValueError):
        index = -1
    if isinstance(label, bool) or not 0 <= index < len(label_names):
        raise ValueError(
            f"Test label {label!r} is neither a name of {LABELS_FILENAME} "
            f"({list(label_names)}) nor a class index. Received: path={str(path)!r}"
        )
    return index


def _select_models(run_dir: Path) -> tuple[dict[str, Path], dict[str, dict]]:
    """The two files to ship and what `results.json` says about them."""
    results_path = run_dir / _RESULTS_FILE
    results: dict[str, Any] = {}
    if results_path.is_file():
        try:
            results = json.loads(results_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{_RESULTS_FILE} of the run is not valid JSON ({error}). "
                f"Received: run_dir={str(run_dir)!r}"
            ) from error
        if not isinstance(results, dict):
            raise ValueError(
                f"{_RESULTS_FILE} of the run must hold a JSON object. "
                f"Received: run_dir={str(run_dir)!r}"
            )
    pair = results.get("android") if isinstance(results.get("android"), dict) else {}
    described_models = results.get("models")
    if not isinstance(described_models, dict):
        described_models = {}
    paths, metadata = {}, {}
    for key in MODEL_KEYS:
        name = pair.get(key)
        if name is None:
            path = _find_model(run_dir, key)
        else:
            path = run_dir / str(name)
            if Path(str(name)).name != str(name) or not path.is_file():
                raise FileNotFoundError(
                    f"{_RESULTS_FILE} names {name!r} as the {key} model for Android, "
                    "but the run folder has no such file. "
                    f"Received: run_dir={str(run_dir)!r}"
                )
        paths[key] = path
        described = described_models.get(path.stem)
        described = described if isinstance(described, dict) else {}
        metadata[key] = {
            field: described[field]
            for field in ("rank", "quantization")
            if field in described
        }
    return paths, metadata


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)
