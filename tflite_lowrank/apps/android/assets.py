"""The Android assets contract: its file names, and `manifest.json` built and checked.

Private part of `tflite_lowrank.apps.android.export`, which re-exports the public names
and documents them (`from tflite_lowrank.apps.android.export import ASSET_FILES`).
`_build_manifest` describes the files the export wrote (sizes, sha256, and each model's
rank, quantization and I/O, read from the file when the run does not say).
`_check_assets` runs the app's `AssetBundle.load` checks (docs/contracts.md, "Android
assets") and replays `golden.jsonl` in LiteRT; the export calls it on what it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tflite_lowrank.data.text_vectorization import TEXT_VECTORIZATION_VERSION
from tflite_lowrank.data.tokenizer import TOKENIZER_VERSION, Tokenizer
from tflite_lowrank.data.vocab_files import (
    LABELS_FILENAME,
    VOCAB_FILENAME,
    load_labels,
    read_utf8,
)
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert import interpreter as _interpreter

MANIFEST_FORMAT_VERSION = 1
"""`format_version` of `manifest.json`; the app refuses any other (its
`Manifest.FORMAT_VERSION`)."""
# The tokenizer rules a manifest may name, and the `Tokenizer` mode of each.
_TOKENIZER_MODES = {
    TOKENIZER_VERSION: "clean",
    TEXT_VECTORIZATION_VERSION: "text_vectorization",
}
MODEL_KEYS = ("baseline", "compressed")
ASSET_MODEL_FILES = {key: f"{key}.tflite" for key in MODEL_KEYS}
"""The two model files of the assets, by key."""
TEST_SET_FILENAME = "test_set.tsv"
GOLDEN_FILENAME = "golden.jsonl"
MANIFEST_FILENAME = "manifest.json"
DATA_FILES = (VOCAB_FILENAME, LABELS_FILENAME, TEST_SET_FILENAME, GOLDEN_FILENAME)
ASSET_FILES = (*ASSET_MODEL_FILES.values(), *DATA_FILES, MANIFEST_FILENAME)
"""Every file the export writes, and the only ones it replaces."""
GOLDEN_ATOL = 1e-6
"""Largest |difference| when LiteRT replays `golden.jsonl` on the exporting machine."""


def _check_assets(folder: Path, *, replay: bool) -> float:
    """All checks; returns the largest golden replay difference (0.0 if no replay)."""
    manifest_path = folder / MANIFEST_FILENAME
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{MANIFEST_FILENAME} is missing; export the assets with "
            f"`tflite-lowrank export-android`. Received: assets_dir={str(folder)!r}"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    def fail(detail: str) -> ValueError:
        return ValueError(f"{detail}. Received: assets_dir={str(folder)!r}")

    if manifest.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise fail(
            f"manifest.json has format_version={manifest.get('format_version')!r}, "
            f"expected {MANIFEST_FORMAT_VERSION}"
        )
    if manifest.get("tokenizer") not in _TOKENIZER_MODES:
        raise fail(
            f"manifest.json has tokenizer={manifest.get('tokenizer')!r}, expected "
            f"one of {sorted(_TOKENIZER_MODES)}"
        )
    seq_len, num_labels = manifest["seq_len"], manifest["num_labels"]
    entries = {name: manifest["files"][name] for name in DATA_FILES}
    for key in MODEL_KEYS:
        entries[manifest["models"][key]["file"]] = manifest["models"][key]
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{name} is listed in manifest.json but missing. "
                f"Received: assets_dir={str(folder)!r}"
            )
        size, digest = _digest(path)
        if size != entry["size_bytes"] or digest != entry["sha256"]:
            raise fail(
                f"{name} has {size} bytes and sha256 {digest}, manifest.json "
                f"expects {entry['size_bytes']} bytes and {entry['sha256']}"
            )

    mode = _TOKENIZER_MODES[manifest["tokenizer"]]
    tokenizer = Tokenizer.load(folder, seq_len=seq_len, mode=mode)
    if tokenizer.vocabulary_size != manifest["vocab_size"]:
        raise fail(
            f"{VOCAB_FILENAME} has {tokenizer.vocabulary_size} tokens, manifest.json "
            f"says vocab_size={manifest['vocab_size']}"
        )
    label_names = load_labels(folder)
    _check_labels(label_names, num_labels, folder)
    contents = {}
    for key in MODEL_KEYS:
        entry = manifest["models"][key]
        contents[key] = _flatbuffer.read_tflite(
            folder / entry["file"], name=f"{key} model"
        )
        info = _flatbuffer.inspect_model(contents[key])
        problems = _contract.contract_problems(info)
        if problems:
            raise fail(f"{entry['file']} breaks the model I/O contract: {problems}")
        actual = {
            "input": _tensor_entry(info.inputs[0]),
            "output": _tensor_entry(info.outputs[0]),
        }
        expected = {
            "input": {"name": "token_ids", "dtype": "int32", "shape": [1, seq_len]},
            "output": {"dtype": "float32", "shape": [1, num_labels]},
        }
        for tensor in ("input", "output"):
            for field, value in expected[tensor].items():
                if actual[tensor][field] != value or entry[tensor][field] != value:
                    raise fail(
                        f"The {tensor} {field} of {entry['file']} is "
                        f"{actual[tensor][field]!r} (manifest: "
                        f"{entry[tensor][field]!r}), expected {value!r}"
                    )
        rows = info.vocabulary_size
        if entry.get("vocab_size") != rows or (
            rows is not None and rows != manifest["vocab_size"]
        ):
            raise fail(
                f"{entry['file']} has an embedding table of {rows} rows, manifest.json "
                f"says {entry.get('vocab_size')} (vocab_size={manifest['vocab_size']})"
            )

    lines = _read_text(folder / TEST_SET_FILENAME).split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise fail(f"{TEST_SET_FILENAME} must hold lines ending in `\\n`")
    for number, line in enumerate(lines[:-1], start=1):
        name, tab, _ = line.partition("\t")
        if not tab or name not in label_names:
            raise fail(
                f"{TEST_SET_FILENAME} line {number} must be `label<TAB>text` with a "
                f"label of {LABELS_FILENAME}, found {line[:60]!r}"
            )

    golden = [
        json.loads(line)
        for line in _read_text(folder / GOLDEN_FILENAME).splitlines()
        if line.strip()
    ]
    if not golden:
        raise fail(f"{GOLDEN_FILENAME} has no lines")
    token_ids = tokenizer.encode([line["text"] for line in golden])
    for number, (line, ids) in enumerate(zip(golden, token_ids, strict=True), start=1):
        if line["token_ids"] != ids.tolist():
            raise fail(
                f"{GOLDEN_FILENAME} line {number}: token_ids {line['token_ids']} are "
                f"not the tokenizer's {ids.tolist()}"
            )
        if not 0 <= line["label"] < num_labels:
            raise fail(
                f"{GOLDEN_FILENAME} line {number}: label {line['label']} out of range"
            )
        for key in MODEL_KEYS:
            if len(line["probabilities"][key]) != num_labels:
                raise fail(
                    f"{GOLDEN_FILENAME} line {number}: {key} has "
                    f"{len(line['probabilities'][key])} probabilities, expected "
                    f"{num_labels}"
                )
    if not replay:
        return 0.0
    max_difference = 0.0
    for key in MODEL_KEYS:
        runner = _interpreter.Runner(
            _interpreter.make_interpreter(model_content=contents[key])
        )
        actual = runner.predict(token_ids)
        expected = np.array([line["probabilities"][key] for line in golden])
        difference = float(np.max(np.abs(actual - expected)))
        if not difference <= GOLDEN_ATOL:
            raise fail(
                f"LiteRT gives {key} probabilities up to {difference:.3g} away from "
                f"{GOLDEN_FILENAME} (tolerance {GOLDEN_ATOL})"
            )
        max_difference = max(max_difference, difference)
    return max_difference


def _check_labels(label_names: Sequence[str], num_labels: int, folder: Path) -> None:
    if len(label_names) != num_labels:
        raise ValueError(
            f"{LABELS_FILENAME} has {len(label_names)} labels but the models output "
            f"{num_labels} probabilities. Received: folder={str(folder)!r}"
        )
    tabbed = [name for name in label_names if "\t" in name]
    if tabbed:
        raise ValueError(
            f"Label names must not contain a tab (test_set.tsv is tab-separated): "
            f"{tabbed}. Received: folder={str(folder)!r}"
        )


def _build_manifest(
    folder: Path,
    *,
    infos: dict[str, _flatbuffer.ModelInfo],
    seq_len: int,
    num_labels: int,
    vocab_size: int,
    num_golden: int,
    metadata: dict[str, dict[str, Any]],
    tokenizer_version: str = TOKENIZER_VERSION,
) -> dict[str, Any]:
    from tflite_lowrank.version import __version__

    baseline_width = _embedding_width(infos["baseline"])
    models = {}
    for key in MODEL_KEYS:
        info = infos[key]
        described = metadata.get(key, {})
        rank = None
        if key == "compressed" and baseline_width is not None:
            rank = _factor_rank(info, baseline_width)
        size, digest = _digest(folder / ASSET_MODEL_FILES[key])
        models[key] = {
            "file": ASSET_MODEL_FILES[key],
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
        "format_version": MANIFEST_FORMAT_VERSION,
        "tokenizer": tokenizer_version,
        "seq_len": seq_len,
        "num_labels": num_labels,
        "vocab_size": vocab_size,
        "models": models,
        "files": files,
        "num_golden": num_golden,
        "created_by": f"tflite_lowrank {__version__}",
    }


def _embedding_width(info: _flatbuffer.ModelInfo) -> int | None:
    """Columns of the gathered table: the embedding dim, or the rank of factors."""
    tables = [table for table in info.embedding_tables if len(table.shape) == 2]
    return min(table.shape[1] for table in tables) if tables else None


def _factor_rank(info: _flatbuffer.ModelInfo, dim: int) -> int | None:
    """The rank of a compressed file's factors; `None` if it holds a full table.

    One gathered table of width below the embedding dim `dim`: that width. Several
    (frequency bands of different ranks): the single-band rank with the same number
    of parameters, `(sum n_i k_i + sum k_i D) / (V + D)` rounded, as the demo's
    `rank` column reports (not the narrowest band's width).
    """
    tables = [table for table in info.embedding_tables if len(table.shape) == 2]
    if not tables or max(table.shape[1] for table in tables) >= dim:
        return None
    if len(tables) == 1:
        return int(tables[0].shape[1])
    rows = sum(table.shape[0] for table in tables)
    params = sum(table.shape[0] * table.shape[1] for table in tables)
    params += sum(table.shape[1] * dim for table in tables)
    return round(params / (rows + dim))


def _quantization(info: _flatbuffer.ModelInfo) -> str:
    """The `convert_to_tflite` mode that explains how the embedding is stored."""
    dtypes = {table.dtype for table in info.embedding_tables}
    if "int4" in dtypes:
        return "int4"
    if "float16" in dtypes:
        return "float16"
    if "int8" in dtypes:
        return "int8" if "QUANTIZE" in info.ops else "dynamic"
    return "float32"


def _tensor_entry(spec: _flatbuffer.TensorInfo) -> dict[str, Any]:
    return {"name": spec.name, "dtype": spec.dtype, "shape": list(spec.shape)}


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _read_text(path: Path) -> str:
    """The UTF-8 text of `path`, line ends untouched; invalid UTF-8 names the file."""
    return read_utf8(path)
