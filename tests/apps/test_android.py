"""Tests for `tflite_lowrank.apps.android.export`: the Android demo's assets contract.

A tiny run folder (vocabulary of ~20, seq_len 5, 2 classes, embedding dim 8) is built
once per module: a baseline DAN and a copy factorized to rank 3 during `fit`, both
converted with `convert_to_tflite`. The export is checked against `docs/contracts.md`
with an independent reader (plain `json`, `hashlib` and the `ai_edge_litert`
interpreter), not with the module's own checker.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tflite_lowrank.apps.android import export as android
from tflite_lowrank.data.tokenizer import TOKENIZER_VERSION, Tokenizer
from tflite_lowrank.data.vocab_files import save_labels

SEQ_LEN = 5
LABELS = ("negative", "positive")
RANK = 3
FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "android_demo/core/src/test/resources/assets_fixture"
)
_TRAIN = (
    ("positive", "a good film"),
    ("positive", "great fun, really great"),
    ("positive", "the best movie"),
    ("negative", "a bad film"),
    ("negative", "boring and bad"),
    ("negative", "the worst movie"),
)
_TEST = (
    ("positive", "A GOOD film!"),
    ("negative", "bad, bad\tbad"),
    ("positive", "Café: great fun 😀"),
    ("negative", "It's the WORST (really) movie of 2019, don't go"),
    ("positive", ""),
    ("negative", "boring"),
)


def _fit(tokenizer, *, factorize):
    import keras

    from tflite_lowrank.models.paper import build_dan, compile_for_classification
    from tflite_lowrank.training.callback import EmbeddingFactorization

    keras.utils.set_random_seed(0)
    model = build_dan(
        tokenizer.vocabulary_size, 2, seq_len=SEQ_LEN, embedding_dim=8, hidden=(4,)
    )
    compile_for_classification(model)
    x = tokenizer.encode([text for _, text in _TRAIN] * 4)
    y = np.array([LABELS.index(label) for label, _ in _TRAIN] * 4)
    callbacks = (
        [EmbeddingFactorization("embedding", rank=RANK, at_epoch=1, verbose=0, bands=1)]
        if factorize
        else []
    )
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
    return model


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.from_texts([text for _, text in _TRAIN], seq_len=SEQ_LEN)


@pytest.fixture(scope="module")
def factorized_model(tokenizer):
    return _fit(tokenizer, factorize=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tokenizer, factorized_model):
    """A finished run folder laid out as `android.py`'s docstring describes."""
    from tflite_lowrank.export.converter import convert_to_tflite

    folder = tmp_path_factory.mktemp("run")
    tokenizer.save(folder)
    save_labels(LABELS, folder)
    (folder / "test.tsv").write_text(
        "".join(f"{label}\t{text.replace(chr(9), ' ')}\n" for label, text in _TEST),
        encoding="utf-8",
    )
    convert_to_tflite(_fit(tokenizer, factorize=False), folder / "baseline.tflite")
    convert_to_tflite(factorized_model, folder / "compressed_rank3.tflite")
    return folder


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A writable copy of the run folder, for tests that break it."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    assets = tmp_path_factory.mktemp("export") / "assets"
    result = android.export_android_assets(run_dir, assets, num_golden=4)
    return assets, result


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def test_export_android_assets_writes_exactly_the_contract_files(exported):
    assets, result = exported
    assert sorted(p.name for p in assets.iterdir()) == sorted(android.ASSET_FILES)
    assert result.files == android.ASSET_FILES
    assert result.num_test == len(_TEST)
    assert result.num_golden == 4
    assert result.max_golden_difference <= android.GOLDEN_ATOL
    # No staging folder is left next to the assets.
    assert [p.name for p in assets.parent.iterdir()] == ["assets"]


def test_export_android_assets_manifest_fields_and_order(exported):
    assets, result = exported
    manifest = json.loads((assets / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    assert list(manifest)[:7] == [
        "format_version",
        "tokenizer",
        "seq_len",
        "num_labels",
        "vocab_size",
        "models",
        "files",
    ]
    assert manifest["format_version"] == 1
    assert manifest["tokenizer"] == TOKENIZER_VERSION
    assert (manifest["seq_len"], manifest["num_labels"]) == (SEQ_LEN, 2)
    assert list(manifest["models"]) == ["baseline", "compressed"]
    assert list(manifest["files"]) == [
        "vocab.txt",
        "labels.txt",
        "test_set.tsv",
        "golden.jsonl",
    ]
    baseline, compressed = (
        manifest["models"]["baseline"],
        manifest["models"]["compressed"],
    )
    assert (baseline["file"], compressed["file"]) == (
        "baseline.tflite",
        "compressed.tflite",
    )
    assert baseline["rank"] is None
    assert compressed["rank"] == RANK  # read from the file: table width 3 < 8
    assert baseline["quantization"] == compressed["quantization"] == "float32"


def test_export_android_assets_sizes_and_sha256_match_the_files(exported):
    assets, result = exported
    manifest = result.manifest
    entries = dict(manifest["files"])
    for model in manifest["models"].values():
        entries[model["file"]] = model
    assert len(entries) == 6
    for name, entry in entries.items():
        assert entry["size_bytes"] == (assets / name).stat().st_size, name
        assert entry["sha256"] == _sha256(assets / name), name


def test_export_android_assets_dtypes_and_shapes_match_litert(exported):
    assets, result = exported
    manifest = result.manifest
    for key in ("baseline", "compressed"):
        entry = manifest["models"][key]
        interpreter = _interpreter(assets / entry["file"])
        runner = interpreter.get_signature_runner("serving_default")
        ((input_name, input_detail),) = runner.get_input_details().items()
        ((output_name, output_detail),) = runner.get_output_details().items()
        assert entry["input"] == {
            "name": input_name,
            "dtype": np.dtype(input_detail["dtype"]).name,
            "shape": input_detail["shape"].tolist(),
        }
        assert entry["input"] == {
            "name": "token_ids",
            "dtype": "int32",
            "shape": [1, SEQ_LEN],
        }
        assert (
            entry["output"]["dtype"]
            == np.dtype(output_detail["dtype"]).name
            == "float32"
        )
        assert entry["output"]["shape"] == output_detail["shape"].tolist() == [1, 2]
        assert entry["output"]["name"] == output_name


def test_export_android_assets_vocab_and_label_counts(exported, run_dir):
    assets, result = exported
    vocab = (assets / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert vocab[-1] == ""  # every line ends in \n
    assert vocab[:2] == ["<pad>", "<unk>"]
    assert len(vocab) - 1 == result.manifest["vocab_size"]
    assert all(token for token in vocab[:-1])
    for model in result.manifest["models"].values():
        assert model["vocab_size"] == result.manifest["vocab_size"]
    assert (assets / "vocab.txt").read_bytes() == (run_dir / "vocab.txt").read_bytes()
    labels = (assets / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert labels == list(LABELS)
    assert len(labels) == result.manifest["num_labels"]


def test_export_android_assets_test_set_is_label_tab_text(exported):
    assets, _ = exported
    lines = (assets / "test_set.tsv").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    rows = [line.split("\t", 1) for line in lines[:-1]]
    assert [label for label, _ in rows] == [label for label, _ in _TEST]
    assert [text for _, text in rows] == [text.replace("\t", " ") for _, text in _TEST]


def test_export_android_assets_golden_reproduced_by_litert(exported):
    """The stated tolerance: `android.GOLDEN_ATOL` (1e-6) on the exporting machine."""
    assets, result = exported
    golden = [
        json.loads(line)
        for line in (assets / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(golden) == 4
    tokenizer = Tokenizer.load(assets, seq_len=SEQ_LEN)
    for line, (label, text) in zip(golden, _TEST, strict=False):
        assert line["text"].replace("\t", " ") == text.replace("\t", " ")
        assert line["label"] == LABELS.index(label)
        assert line["token_ids"] == tokenizer.encode([line["text"]])[0].tolist()
    for key in ("baseline", "compressed"):
        runner = _interpreter(assets / f"{key}.tflite").get_signature_runner(
            "serving_default"
        )
        for line in golden:
            ids = np.array([line["token_ids"]], dtype=np.int32)
            (probabilities,) = runner(token_ids=ids).values()
            np.testing.assert_allclose(
                probabilities[0], line["probabilities"][key], rtol=0, atol=1e-6
            )
            assert abs(sum(line["probabilities"][key]) - 1) < 1e-5


def test_export_android_assets_ships_the_pair_named_in_results_json(run_copy, tmp_path):
    """The demo's run folder: two files per glob, `results.json` names the pair."""
    shutil.copy(run_copy / "baseline.tflite", run_copy / "baseline_dynamic.tflite")
    (run_copy / "compressed_rank3.tflite").rename(
        run_copy / "compressed_dynamic.tflite"
    )
    shutil.copy(run_copy / "baseline.tflite", run_copy / "compressed_float32.tflite")
    (run_copy / "results.json").write_text(
        json.dumps(
            {
                "android": {
                    "baseline": "baseline.tflite",
                    "compressed": "compressed_dynamic.tflite",
                },
                "models": {
                    "compressed_dynamic": {"rank": 7, "quantization": "dynamic"},
                    "compressed_float32": {"rank": 99, "quantization": "float32"},
                },
            }
        )
    )
    result = android.export_android_assets(run_copy, tmp_path / "assets")
    compressed = result.manifest["models"]["compressed"]
    assert (compressed["rank"], compressed["quantization"]) == (7, "dynamic")
    assert result.manifest["models"]["baseline"]["rank"] is None
    assert (tmp_path / "assets" / "compressed.tflite").read_bytes() == (
        run_copy / "compressed_dynamic.tflite"
    ).read_bytes()


@pytest.fixture(scope="module")
def wide_factorized_model():
    """Factors large enough (2,000 x 4) for the converter to quantize them."""
    import keras

    from tflite_lowrank.models.paper import build_dan, compile_for_classification
    from tflite_lowrank.training.callback import EmbeddingFactorization

    keras.utils.set_random_seed(1)
    model = build_dan(2000, 2, seq_len=SEQ_LEN, embedding_dim=16, hidden=(4,))
    compile_for_classification(model)
    rng = np.random.default_rng(1)
    x = rng.integers(1, 2000, size=(64, SEQ_LEN))
    y = rng.integers(0, 2, size=64)
    split = EmbeddingFactorization("embedding", rank=4, at_epoch=1, verbose=0, bands=1)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[split])
    return model, x


@pytest.mark.parametrize("mode", ["float32", "dynamic", "float16", "int8", "int4"])
def test_export_android_assets_reads_the_quantization_from_the_file(
    wide_factorized_model, tmp_path, mode
):
    """Without `results.json`, the manifest's mode comes from the stored table type."""
    from tflite_lowrank.apps.android import assets as _android_assets
    from tflite_lowrank.export.converter import convert_to_tflite
    from tflite_lowrank.litert import flatbuffer as _flatbuffer

    model, x = wide_factorized_model
    path = tmp_path / "compressed.tflite"
    convert_to_tflite(model, path, quantization=mode, representative_data=x)
    info = _flatbuffer.inspect_model(path.read_bytes())
    assert _android_assets._quantization(info) == mode


def test_export_android_assets_of_a_text_vectorization_run(run_copy, tmp_path):
    """A run whose vocab.txt is TextVectorization's exports its tokenizer rules."""
    vocab = run_copy / "vocab.txt"
    text = vocab.read_text(encoding="utf-8")
    vocab.write_text(text.replace("<pad>\n<unk>\n", "\n[UNK]\n", 1), encoding="utf-8")
    assets = tmp_path / "assets"
    android.export_android_assets(run_copy, assets, num_golden=6)
    manifest = json.loads((assets / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tokenizer"] == "keras-text-vectorization-v1"
    assert (assets / "vocab.txt").read_text(encoding="utf-8").startswith("\n[UNK]\n")
    tokenizer = Tokenizer.load(assets, seq_len=SEQ_LEN)
    assert tokenizer.mode == "text_vectorization"
    for line in (assets / "golden.jsonl").read_text(encoding="utf-8").splitlines():
        golden = json.loads(line)
        assert golden["token_ids"] == tokenizer.encode([golden["text"]])[0].tolist()
    android.check_android_assets(assets)


def test_export_android_assets_results_json_naming_a_missing_file(run_copy, tmp_path):
    (run_copy / "results.json").write_text(
        json.dumps({"android": {"compressed": "compressed_gone.tflite"}})
    )
    with pytest.raises(FileNotFoundError, match="'compressed_gone.tflite'"):
        android.export_android_assets(run_copy, tmp_path / "assets")
    assert not (tmp_path / "assets").exists()


def test_export_android_assets_refuses_existing_assets_without_overwrite(
    run_dir, tmp_path
):
    assets = tmp_path / "assets"
    android.export_android_assets(run_dir, assets, num_golden=2)
    (assets / "README.txt").write_text("not an asset")
    (assets / "labels.txt").write_text("old\n")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        android.export_android_assets(run_dir, assets)
    assert (assets / "labels.txt").read_text() == "old\n"
    result = android.export_android_assets(
        run_dir, assets, overwrite=True, num_golden=3
    )
    assert result.num_golden == 3
    assert (assets / "labels.txt").read_text() == "negative\npositive\n"
    assert (assets / "README.txt").read_text() == "not an asset"


def _break_vocab(run):
    with open(run / "vocab.txt", "a", encoding="utf-8") as file:
        file.write("extra\n")


def _three_labels(run):
    (run / "labels.txt").write_text("negative\nneutral\npositive\n")


def _unknown_test_label(run):
    with open(run / "test.tsv", "a", encoding="utf-8") as file:
        file.write("maybe\tso so\n")


def _second_baseline(run):
    shutil.copy(run / "baseline.tflite", run / "baseline_old.tflite")


def _not_a_model(run):
    (run / "compressed_rank3.tflite").write_bytes(b"not a flatbuffer" * 4)


def _no_test_split(run):
    (run / "test.tsv").unlink()


def _no_compressed(run):
    (run / "compressed_rank3.tflite").unlink()


def _empty_vocab_line(run):
    text = (run / "vocab.txt").read_text(encoding="utf-8")
    (run / "vocab.txt").write_text(text.replace("\n", "\n\n", 1), encoding="utf-8")


def _two_inputs(run):
    """A compressed model with two token inputs: the app takes `token_ids` only."""
    import keras

    from tflite_lowrank.export.converter import convert_to_tflite

    rows = len((run / "vocab.txt").read_text(encoding="utf-8").splitlines())
    first = keras.Input((5,), dtype="int32", name="question")
    second = keras.Input((3,), dtype="int32", name="answer")
    embedding = keras.layers.Embedding(rows, 4)
    pooled = [
        keras.layers.GlobalAveragePooling1D()(embedding(x)) for x in (first, second)
    ]
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Concatenate()(pooled)
    )
    convert_to_tflite(
        keras.Model([first, second], outputs),
        run / "compressed_rank3.tflite",
        overwrite=True,
    )


@pytest.mark.parametrize(
    ("breaker", "error", "match"),
    [
        (_break_vocab, ValueError, "embedding table has .* rows"),
        (
            _two_inputs,
            ValueError,
            r"compressed model breaks the I/O contract.*one input expected, found 2",
        ),
        (_three_labels, ValueError, "3 labels but the models output 2"),
        (_unknown_test_label, ValueError, "'maybe' is neither a name"),
        (_second_baseline, ValueError, r"exactly one `baseline\*.tflite`"),
        (_not_a_model, ValueError, "not a valid `.tflite` model"),
        (_no_test_split, FileNotFoundError, "no test split"),
        (_no_compressed, FileNotFoundError, r"exactly one `compressed\*.tflite`"),
        (_empty_vocab_line, ValueError, "blank lines"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_export_android_assets_bad_run_raises_and_writes_nothing(
    run_copy, tmp_path, breaker, error, match
):
    breaker(run_copy)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error, match=match):
        android.export_android_assets(run_copy, out / "assets")
    assert list(out.iterdir()) == []  # neither assets nor a staging folder


def test_export_android_assets_failed_overwrite_keeps_previous_assets(
    run_dir, run_copy, tmp_path
):
    assets = tmp_path / "assets"
    android.export_android_assets(run_dir, assets, num_golden=2)
    before = {p.name: p.read_bytes() for p in assets.iterdir()}
    _three_labels(run_copy)
    with pytest.raises(ValueError):
        android.export_android_assets(run_copy, assets, overwrite=True)
    assert {p.name: p.read_bytes() for p in assets.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assets", "run"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_golden": 0}, ValueError, "Received: num_golden=0"),
        ({"num_golden": "3"}, TypeError, "`num_golden` must be an integer"),
        ({"overwrite": 1}, TypeError, "`overwrite` must be a bool"),
        ({"max_test_examples": 0}, ValueError, "Received: max_test_examples=0"),
    ],
    ids=["num_golden_zero", "num_golden_str", "overwrite_int", "max_test_zero"],
)
def test_export_android_assets_rejects_bad_arguments(
    run_dir, tmp_path, kwargs, error, match
):
    with pytest.raises(error, match=match):
        android.export_android_assets(run_dir, tmp_path / "assets", **kwargs)
    assert not (tmp_path / "assets").exists()


def test_export_android_assets_rejects_missing_folders(run_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: run_dir="):
        android.export_android_assets(tmp_path / "nope", tmp_path / "assets")
    with pytest.raises(FileNotFoundError, match="parent folder of `assets_dir`"):
        android.export_android_assets(run_dir, tmp_path / "a" / "b" / "assets")


def test_export_android_assets_caps_test_examples(run_dir, tmp_path):
    result = android.export_android_assets(
        run_dir, tmp_path / "assets", max_test_examples=3, num_golden=10
    )
    assert (result.num_test, result.num_golden) == (3, 3)


@pytest.fixture
def assets_copy(exported, tmp_path):
    assets, _ = exported
    return Path(shutil.copytree(assets, tmp_path / "assets"))


def test_check_android_assets_accepts_an_export(assets_copy):
    manifest = android.check_android_assets(assets_copy)
    assert manifest["models"]["compressed"]["rank"] == RANK


def test_check_android_assets_detects_changed_bytes(assets_copy):
    path = assets_copy / "baseline.tflite"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 1
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="baseline.tflite has .* bytes and sha256"):
        android.check_android_assets(assets_copy)


def test_check_android_assets_detects_missing_file(assets_copy):
    (assets_copy / "golden.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="golden.jsonl is listed"):
        android.check_android_assets(assets_copy)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"seq_len": SEQ_LEN + 1}, "input shape of baseline.tflite"),
        ({"vocab_size": 999}, "vocab_size=999"),
        ({"tokenizer": "other-v0"}, "tokenizer='other-v0'"),
        ({"format_version": 2}, "format_version=2"),
    ],
    ids=["seq_len", "vocab_size", "tokenizer", "format_version"],
)
def test_check_android_assets_detects_manifest_mismatch(assets_copy, edit, match):
    path = assets_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(edit)
    path.write_text(json.dumps(manifest, indent=2))
    with pytest.raises(ValueError, match=match):
        android.check_android_assets(assets_copy)


def test_committed_kotlin_fixture_is_a_valid_export():
    """The Kotlin core tests run on this fixture; it must pass the Python checks too."""
    manifest = android.check_android_assets(FIXTURE)
    assert manifest["models"]["compressed"]["rank"] == 2
