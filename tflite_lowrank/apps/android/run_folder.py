"""Reading a finished run folder for `export_android_assets`.

Private part of `tflite_lowrank.apps.android.export`, whose module docstring lays out
the run folder. `_select_models` picks the two files to ship (named in `results.json`,
or the only `baseline*.tflite` and `compressed*.tflite`) and what the run says about
them; `_check_models_fit` checks that they follow the I/O contract and agree on
`seq_len` and labels; `_read_test_split` reads the test sentences with class indices.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tflite_lowrank.apps.android.assets import MODEL_KEYS, TEST_SET_FILENAME, _read_text
from tflite_lowrank.data.vocab_files import LABELS_FILENAME
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer

_TEST_SPLIT_FILES = ("test.tsv", TEST_SET_FILENAME, "test.jsonl")
_RESULTS_FILE = "results.json"


def _check_models_fit(
    infos: dict[str, _flatbuffer.ModelInfo], paths: dict[str, Path]
) -> tuple[int, int]:
    shapes = {}
    for key, info in infos.items():
        problems = _contract.contract_problems(info) + [
            f"operator {op} is not a LiteRT builtin"
            for op in _contract.builtin_problems(info)
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
