"""The `tflite-lowrank` command line, run in this process (the `cli` fixture calls
`tflite_lowrank_cli.main.main(argv)`; tests/cli/test_entry_point.py runs the console
script as a real process).

`tflite-lowrank convert | benchmark | compare` on tiny models: results on stdout,
diagnostics on stderr, exit codes 0 ok / 1 check failed / 2 usage or input error with
a message naming the argument.
"""

import json
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.export.converter import convert_to_tflite
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.models.paper import build_dan

VOCAB, SEQ_LEN = 50, 5
WORDS = [f"w{index}" for index in range(VOCAB - 2)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_dan_files):
    """Tiny models, converted files and data files, shared by the module."""
    folder = tmp_path_factory.mktemp("cli")
    shutil.copy(tiny_dan_files / "dan.keras", folder / "dan.keras")
    shutil.copy(tiny_dan_files / "dan.tflite", folder / "a.tflite")
    # Labelled by a.tflite's predictions: the reference is always right.
    shutil.copy(tiny_dan_files / "data.npz", folder / "data.npz")
    shutil.copy(tiny_dan_files / "vocab.txt", folder / "vocab.txt")

    keras.utils.set_random_seed(0)
    token_ids = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = LowRankEmbedding(VOCAB, 8, 2, mask_zero=True, name="embedding")(token_ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    lowrank = keras.Model(token_ids, keras.layers.Dense(2)(x))  # Ends in logits.
    lowrank.save(folder / "lowrank.keras")

    with np.load(folder / "data.npz") as data:
        ids, labels = data["token_ids"], data["labels"]
    # b.tflite always predicts the class the labels hold least: a sure accuracy drop.
    constant = build_dan(VOCAB, 2, seq_len=SEQ_LEN, embedding_dim=8)
    minority = int(np.argmin(np.bincount(labels, minlength=2)))
    probs = constant.get_layer("probs")
    probs.kernel.assign(np.zeros(probs.kernel.shape, "float32"))
    probs.bias.assign(np.where(np.arange(2) == minority, 20.0, -20.0).astype("float32"))
    convert_to_tflite(constant, folder / "b.tflite")

    np.savez(folder / "unlabeled.npz", token_ids=ids)
    np.savez(folder / "bad_ids.npz", token_ids=np.full((2, SEQ_LEN), VOCAB))
    np.savez(folder / "no_ids.npz", ids=ids)
    (folder / "labels.txt").write_text("negative\npositive\n")
    (folder / "data.tsv").write_text(
        "positive\tw1 w2 w3, W4!\nnegative\tw7 unknown w9\npositive\tw10\n"
    )
    (folder / "indices.tsv").write_text("1\tw1 w2\n0\tw3\n")
    (folder / "not_a_model.keras").write_bytes(b"not a zip archive")
    return folder


def test_cli_import_does_not_import_tensorflow():
    # The console script's module answers `--help` without Keras; importing the
    # `tflite_lowrank` package itself does import Keras (registration).
    code = (
        "import sys, tflite_lowrank_cli, tflite_lowrank_cli.main; "
        "heavy = {'tensorflow', 'keras'} & set(sys.modules); "
        "sys.exit(f'imported {heavy}' if heavy else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "convert"),
        (("convert",), "--quantization"),
        (("benchmark",), "--threads"),
        (("compare",), "--max-accuracy-drop"),
    ],
    ids=["top", "convert", "benchmark", "compare"],
)
def test_cli_help_lists_options(command, expected, cli):
    completed = cli(*command, "--help")
    assert completed.returncode == 0
    assert expected in completed.stdout


# --- convert -------------------------------------------------------------------------


def test_cli_convert_writes_json_result(workdir, cli):
    output = workdir / "dan_cli.tflite"
    completed = cli("convert", workdir / "dan.keras", output, "--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)  # stdout holds the JSON and nothing else
    assert result["quantization"] == "float32"
    assert result["inputs"][0]["shape"] == [1, SEQ_LEN]
    assert result["size_bytes"] == output.stat().st_size


def test_cli_convert_int4_without_folding(workdir, cli):
    output = workdir / "lowrank_int4.tflite"
    completed = cli(
        "convert",
        workdir / "lowrank.keras",
        output,
        "--quantization",
        "int4",
        "--no-fold-projection",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["quantization"] == "int4"
    assert result["folded_into"] == []  # Folding is on unless switched off.


@pytest.mark.parametrize("mode", ["int8_rows", "int4_rows"])
def test_cli_convert_writes_native_row_lookups(tmp_path, cli, mode):
    # A table of 1024 values or more (smaller ones stay float32 GATHERs).
    build_dan(600, 2, seq_len=SEQ_LEN, embedding_dim=8).save(tmp_path / "d.keras")
    output = tmp_path / f"dan_{mode}.tflite"
    completed = cli(
        "convert", tmp_path / "d.keras", output, "--quantization", mode, "--json"
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["quantization"] == mode
    assert "EMBEDDING_LOOKUP" in result["ops"]


def test_cli_convert_int8_with_tsv_representative_data(workdir, cli):
    output = workdir / "lowrank_int8.tflite"
    completed = cli(
        "convert",
        workdir / "lowrank.keras",
        output,
        "--quantization",
        "int8",
        "--representative-data",
        workdir / "data.tsv",
        "--vocab",
        workdir / "vocab.txt",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"Wrote {output}: ")
    assert "int8" in completed.stdout and "softmax appended" in completed.stdout


CONVERT_ERRORS = [
    pytest.param(["dan.keras", "a.tflite"], "--overwrite", id="exists"),
    pytest.param(["dan.keras", "missing/x.tflite"], "folder of `OUT.tflite`", id="dir"),
    pytest.param(
        ["dan.keras", "x.bin"], "`OUT.tflite` must end in `.tflite`", id="ext"
    ),
    pytest.param(["missing.keras", "x.tflite"], "`MODEL.keras`", id="no-model"),
    pytest.param(["data.npz", "x.tflite"], "`MODEL.keras`", id="model-ext"),
    pytest.param(
        ["dan.keras", "x.tflite", "--quantization", "int8"],
        "--representative-data",
        id="int8-without-data",
    ),
    pytest.param(
        ["dan.keras", "x.tflite", "--quantization", "int2"],
        "invalid choice: 'int2'",
        id="unknown-mode",
    ),
    pytest.param(
        ["dan.keras", "x.tflite", "--representative-data", "data.tsv"],
        "--vocab",
        id="tsv-without-vocab",
    ),
    pytest.param(
        ["not_a_model.keras", "x.tflite"],
        "Could not load a Keras model",
        id="not-a-model",
    ),
]


@pytest.mark.parametrize(("arguments", "expected"), CONVERT_ERRORS)
def test_cli_convert_errors_exit_2_naming_the_argument(
    workdir, arguments, expected, cli
):
    before = (workdir / "a.tflite").read_bytes()
    args = [workdir / a if "." in a else a for a in arguments]
    completed = cli("convert", *args)
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    message = completed.stderr.strip().splitlines()[-1]
    assert "error:" in message
    assert expected in message
    assert (workdir / "a.tflite").read_bytes() == before
    assert not (workdir / "x.tflite").exists()


# --- benchmark -----------------------------------------------------------------------


def test_cli_benchmark_npz_prints_measurements(workdir, cli):
    completed = cli(
        "benchmark",
        workdir / "a.tflite",
        "--data",
        workdir / "data.npz",
        "--runs",
        "10",
        "--warmup",
        "1",
    )
    assert completed.returncode == 0, completed.stderr
    assert "latency (10 runs): p50" in completed.stdout
    assert "accuracy: 100.00%" in completed.stdout


def test_cli_benchmark_tsv_json(workdir, cli):
    completed = cli(
        "benchmark",
        workdir / "a.tflite",
        "--data",
        workdir / "data.tsv",
        "--vocab",
        workdir / "vocab.txt",
        "--labels",
        workdir / "labels.txt",
        "--runs",
        "5",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["num_samples"] == 3
    assert result["num_runs"] == 5
    assert 0.0 <= result["accuracy"] <= 1.0


BENCHMARK_ERRORS = [
    pytest.param(["data.npz"], "not a valid `.tflite`", id="not-tflite"),
    pytest.param(["missing.tflite"], "`MODEL.tflite`", id="missing"),
    pytest.param(
        ["a.tflite", "--data", "bad_ids.npz"], "token ids of `--data`", id="ids-range"
    ),
    pytest.param(["a.tflite", "--data", "no_ids.npz"], "`token_ids`", id="npz-keys"),
    pytest.param(["a.tflite", "--data", "data.tsv"], "--vocab", id="tsv-no-vocab"),
    pytest.param(
        ["a.tflite", "--data", "data.tsv", "--vocab", "vocab.txt"],
        "--labels",
        id="label-names-no-labels",
    ),
    pytest.param(["a.tflite", "--threads", "0"], "--threads", id="threads"),
    pytest.param(["a.tflite", "--data", "missing.npz"], "--data", id="missing-data"),
]


@pytest.mark.parametrize(("arguments", "expected"), BENCHMARK_ERRORS)
def test_cli_benchmark_errors_exit_2_naming_the_argument(
    workdir, arguments, expected, cli
):
    args = [workdir / a if "." in a else a for a in arguments]
    completed = cli("benchmark", *args)
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert expected in completed.stderr.strip().splitlines()[-1]


# --- TextVectorization vocabularies ---------------------------------------------------

TV_TEXTS = ("NASA's w1-w2 isn't dead!", "W3, w4 \u201cw5\u201d", "")


@pytest.fixture(scope="module")
def keras_vocab(workdir):
    """A TextVectorization's vocabulary written as vocab.txt, and a .tsv for it."""
    layer = keras.layers.TextVectorization(
        vocabulary=[*WORDS[:-4], "nasas", "w1w2", "isnt", "dead"],
        output_sequence_length=SEQ_LEN,
    )
    vocabulary = layer.get_vocabulary()
    assert len(vocabulary) == VOCAB and vocabulary[:2] == ["", "[UNK]"]
    (workdir / "keras_vocab.txt").write_text("\n".join(vocabulary) + "\n")
    (workdir / "keras.tsv").write_text("".join(f"1\t{t}\n" for t in TV_TEXTS[:2]))
    return layer


@pytest.mark.parametrize("mode", ["auto", "text_vectorization"])
def test_cli_tsv_with_a_text_vectorization_vocab_gives_the_layers_ids(
    workdir, keras_vocab, mode
):
    from tflite_lowrank_cli.inputs import _load_data

    token_ids, labels = _load_data(
        str(workdir / "keras.tsv"),
        flag="--data",
        vocab=str(workdir / "keras_vocab.txt"),
        labels_file=None,
        seq_len=SEQ_LEN,
        tables=[("a.tflite", VOCAB)],
        tokenizer_mode=mode,
    )
    expected = keras.ops.convert_to_numpy(keras_vocab(list(TV_TEXTS[:2])))
    np.testing.assert_array_equal(token_ids, expected)
    assert labels.tolist() == [1, 1]
    clean, _ = _load_data(
        str(workdir / "keras.tsv"),
        flag="--data",
        vocab=str(workdir / "keras_vocab.txt"),
        labels_file=None,
        seq_len=SEQ_LEN,
        tokenizer_mode="clean",
    )
    assert not np.array_equal(clean, expected)


def test_cli_benchmark_and_compare_with_the_text_vectorization_tokenizer(
    workdir, keras_vocab, cli
):
    data = ["--data", workdir / "keras.tsv", "--vocab", workdir / "keras_vocab.txt"]
    data += ["--tokenizer", "text_vectorization"]
    runs = ["--runs", "3", "--json"]
    completed = cli("benchmark", workdir / "a.tflite", *data, *runs)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["num_samples"] == 2
    completed = cli("compare", workdir / "a.tflite", workdir / "b.tflite", *data)
    assert completed.returncode == 0, completed.stderr
    assert "a.tflite" in completed.stdout


def test_cli_tokenizer_errors_exit_2_naming_the_argument(workdir, keras_vocab, cli):
    completed = cli(
        "benchmark", workdir / "a.tflite", "--data", workdir / "keras.tsv",
        "--vocab", workdir / "keras_vocab.txt", "--tokenizer", "keras",
    )  # fmt: skip
    assert completed.returncode == 2
    assert "--tokenizer" in completed.stderr and "'keras'" in completed.stderr
    (workdir / "blank_first.txt").write_text("\n<unk>\n" + "\n".join(WORDS) + "\n")
    completed = cli(
        "benchmark", workdir / "a.tflite", "--data", workdir / "keras.tsv",
        "--vocab", workdir / "blank_first.txt",
    )  # fmt: skip
    last_line_error(completed, ["`--vocab`", "[UNK]", "blank_first.txt"])


# --- compare -------------------------------------------------------------------------


def test_cli_compare_prints_markdown(workdir, cli):
    completed = cli(
        "compare",
        workdir / "a.tflite",
        workdir / "b.tflite",
        "--data",
        workdir / "data.npz",
        "--runs",
        "5",
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0].startswith("| model | size (KB) | size ratio |")
    assert lines[2].startswith("| a.tflite (reference) |")
    assert lines[3].startswith("| b.tflite |")


def test_cli_compare_json_and_plot(workdir, cli):
    plot = workdir / "comparison.png"
    completed = cli(
        "compare",
        workdir / "a.tflite",
        workdir / "b.tflite",
        "--data",
        workdir / "data.npz",
        "--runs",
        "5",
        "--json",
        "--plot",
        plot,
        "--reference",
        "1",
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["reference"] == 1
    assert [row["name"] for row in result["rows"]] == ["a.tflite", "b.tflite"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    again = cli(
        "compare", workdir / "a.tflite", "--data", workdir / "data.npz", "--plot", plot
    )
    assert again.returncode == 2
    assert "--overwrite" in again.stderr


@pytest.mark.parametrize(
    ("limit", "exit_code"), [("0.1", 1), ("1.0", 0)], ids=["exceeded", "within"]
)
def test_cli_compare_max_accuracy_drop(workdir, limit, exit_code, cli):
    completed = cli(
        "compare",
        workdir / "a.tflite",
        workdir / "b.tflite",
        "--data",
        workdir / "data.npz",
        "--runs",
        "5",
        "--max-accuracy-drop",
        limit,
    )
    assert completed.returncode == exit_code, completed.stderr
    assert "b.tflite" in completed.stdout  # The table is printed either way.
    if exit_code == 1:
        assert "check failed: b.tflite" in completed.stderr


COMPARE_ERRORS = [
    pytest.param(
        ["--data", "unlabeled.npz", "--max-accuracy-drop", "0.01"],
        "--max-accuracy-drop",
        id="drop-needs-labels",
    ),
    pytest.param(["--data", "data.npz", "--reference", "5"], "--reference", id="ref"),
    pytest.param(["--data", "data.npz", "--plot", "plot.jpg"], "--plot", id="plot"),
    pytest.param(
        ["--data", "data.npz", "--max-accuracy-drop", "2"],
        "--max-accuracy-drop",
        id="drop-range",
    ),
    pytest.param([], "--data", id="data-required"),
]


@pytest.mark.parametrize(("arguments", "expected"), COMPARE_ERRORS)
def test_cli_compare_errors_exit_2_naming_the_argument(
    workdir, arguments, expected, cli
):
    args = [workdir / a if a.endswith((".npz", ".jpg")) else a for a in arguments]
    completed = cli("compare", workdir / "a.tflite", workdir / "b.tflite", *args)
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert expected in completed.stderr.strip().splitlines()[-1]


# --- the files users actually have ---------------------------------------------------


def last_line_error(completed, expected):
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    line = completed.stderr.strip().splitlines()[-1]
    assert "error:" in line
    for text in expected:
        assert text in line, line


def corrupted_for_litert_only(content: bytes) -> bytes:
    """One byte flipped that the flatbuffer walk accepts but LiteRT refuses."""
    from tflite_lowrank.litert import flatbuffer

    for position in range(8, len(content)):
        changed = bytearray(content)
        changed[position] ^= 0xFF
        changed = bytes(changed)
        try:
            flatbuffer.inspect_model(changed)
        except Exception:  # noqa: S112 - the parent process detects this one.
            continue
        try:
            Interpreter(model_content=changed).allocate_tensors()
        except (ValueError, RuntimeError):
            return changed
    raise AssertionError("no such byte")


@pytest.fixture(scope="module")
def broken(workdir):
    """Truncated and corrupted .tflite and .npz files, and vocabularies of the wrong
    size."""
    folder = workdir / "broken"
    folder.mkdir()
    content = (workdir / "a.tflite").read_bytes()
    (folder / "truncated.tflite").write_bytes(content[: len(content) // 2])
    (folder / "corrupted.tflite").write_bytes(corrupted_for_litert_only(content))
    archive = (workdir / "data.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(archive[: len(archive) // 2])
    (folder / "text.npz").write_text("token_ids\n1 2 3\n")
    np.save(folder / "array.npy", np.ones((2, SEQ_LEN), np.int32))
    (folder / "array.npy").rename(folder / "array.npz")
    words = ["<pad>", "<unk>", *WORDS]
    (folder / "small_vocab.txt").write_text("\n".join(words[:-5]) + "\n")
    (folder / "large_vocab.txt").write_text("\n".join([*words, "extra"]) + "\n")
    return folder


@pytest.mark.parametrize("name", ["truncated", "corrupted"])
@pytest.mark.parametrize("command", ["benchmark", "compare"])
def test_cli_broken_tflite_exits_2_naming_the_file(workdir, broken, command, name, cli):
    path = broken / f"{name}.tflite"
    if command == "benchmark":
        completed = cli("benchmark", path, "--runs", "2", "--warmup", "0")
    else:
        completed = cli(
            "compare", workdir / "a.tflite", path, "--data", workdir / "data.npz"
        )
    last_line_error(completed, [f"{name}.tflite", "corrupted"])


# `np.load` leaves its file open when the zip is truncated (NumPy's, not the CLI's,
# leak); in a process of its own the warning went unseen.
@pytest.mark.filterwarnings(
    r"ignore:unclosed file <_io.BufferedReader name='.*\.npz'>:ResourceWarning"
)
@pytest.mark.parametrize("name", ["truncated", "text", "array"])
def test_cli_broken_npz_exits_2_naming_the_file(workdir, broken, name, cli):
    path = broken / f"{name}.npz"
    completed = cli("benchmark", workdir / "a.tflite", "--data", path)
    last_line_error(completed, ["--data", f"{name}.npz", "not a readable .npz"])
    completed = cli(
        "convert",
        workdir / "dan.keras",
        workdir / "never.tflite",
        "--quantization",
        "int8",
        "--representative-data",
        path,
    )
    last_line_error(completed, ["--representative-data", f"{name}.npz"])
    assert not (workdir / "never.tflite").exists()


@pytest.mark.parametrize(
    ("vocab", "size"), [("small_vocab.txt", VOCAB - 5), ("large_vocab.txt", VOCAB + 1)]
)
@pytest.mark.parametrize("command", ["benchmark", "compare"])
def test_cli_vocab_of_another_size_exits_2_naming_both_sizes(
    workdir, broken, command, vocab, size, cli
):
    data = ["--data", workdir / "data.tsv", "--vocab", broken / vocab]
    data += ["--labels", workdir / "labels.txt"]
    if command == "benchmark":
        completed = cli("benchmark", workdir / "a.tflite", *data)
    else:
        completed = cli("compare", workdir / "a.tflite", workdir / "b.tflite", *data)
    last_line_error(completed, [f"{size} tokens", f"{VOCAB} rows", vocab])


USER_LAYERS = """
import keras


@keras.saving.register_keras_serializable(package="my_project")
class Doubling(keras.layers.Layer):
    def call(self, inputs):
        return 2.0 * inputs
"""


def test_cli_convert_imports_a_module_from_the_current_folder(workdir, tmp_path, cli):
    # In process, a module the test imports stays registered: the fresh-process
    # check that `--import` is what makes a custom layer loadable is the
    # integration test below. This one checks the import itself, from `cwd`.
    module = "tflite_lowrank_test_import_probe"
    assert module not in sys.modules
    (tmp_path / f"{module}.py").write_text(
        "import pathlib\npathlib.Path('imported.txt').write_text('yes')\n"
    )
    output = tmp_path / "dan.tflite"
    try:
        completed = cli(
            "convert", workdir / "dan.keras", output, "--import", module, cwd=tmp_path
        )
    finally:
        sys.modules.pop(module, None)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "imported.txt").read_text() == "yes"
    assert output.is_file()
    assert str(tmp_path) not in sys.path  # `cli` restores it after the run


def test_cli_convert_import_of_a_missing_module_exits_2_naming_it(
    workdir, tmp_path, cli
):
    completed = cli(
        "convert", workdir / "dan.keras", tmp_path / "x.tflite",
        "--import", "json", "--import", "my_project_missing",
    )  # fmt: skip
    last_line_error(completed, ["`--import`", "'my_project_missing'"])
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.integration  # three fresh processes: Keras' registry starts empty
def test_cli_convert_imports_the_users_layers(tmp_path, monkeypatch):
    import importlib

    (tmp_path / "my_project_layers.py").write_text(USER_LAYERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    layers = importlib.import_module("my_project_layers")
    token_ids = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, 8)(token_ids)
    x = layers.Doubling()(keras.layers.GlobalAveragePooling1D()(x))
    keras.Model(token_ids, keras.layers.Dense(2)(x)).save(tmp_path / "user.keras")

    def convert(*extra):
        return subprocess.run(
            [sys.executable, "-m", "tflite_lowrank_cli", "convert", "user.keras"]
            + ["user.tflite", *extra],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
        )

    last_line_error(convert(), ["Could not locate class 'Doubling'", "--import MODULE"])
    last_line_error(
        convert("--import", "my_project_missing"),
        ["`--import`", "'my_project_missing'"],
    )
    completed = convert("--import", "json", "--import", "my_project_layers")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "user.tflite").is_file()
