"""Issue 30, third hostile round: the command line against odd files and flags.

Every case runs `tflite-lowrank ARGS...` in this process (the `cli` fixture) on tiny
files shared by the module. `BEFORE` says what each case did before this round's
fixes: a clear error (exit 2, one line naming the flag or argument and the value,
nothing written), correct behaviour, weak (works, or refuses, but the message does
not say what is wrong or where) or a defect (traceback, wrong result, file left
behind, machine exhausted). Every case now ends as a clear error or correct
behaviour: `ERRORS` are checked for the exit code, the texts of the last stderr line
(a text starting with "!" must not be there) and an untouched output folder; `WORKS`
for exit 0. The cases that run a conversion
or a LiteRT process are in the integration tier.
"""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

VOCAB, SEQ_LEN = 50, 5
WORDS = [f"w{index}" for index in range(VOCAB - 2)]
NON_UTF8 = os.fsdecode(b"caf\xe9.tflite")  # a file name that is not UTF-8 (Linux)
LONG = "a" * 300 + ".tflite"  # longer than a file name may be (255 bytes)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_dan_files):
    """The odd files of the cases, made once (read only: cases write into `out`)."""
    import keras

    from tflite_lowrank.export.converter import convert_to_tflite
    from tflite_lowrank.layers.low_rank import LowRankEmbedding

    f = tmp_path_factory.mktemp("hostile3")
    shutil.copy(tiny_dan_files / "dan.keras", f / "dan.keras")
    shutil.copy(tiny_dan_files / "dan.tflite", f / "dan.tflite")
    keras.utils.set_random_seed(0)
    token_ids = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = LowRankEmbedding(VOCAB, 8, 2, mask_zero=True, name="embedding")(token_ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    lowrank = keras.Model(token_ids, keras.layers.Dense(2, activation="softmax")(x))
    convert_to_tflite(lowrank, f / "lowrank.tflite")
    variable = keras.Input((None,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(VOCAB, 8)(variable)
    )
    keras.Model(variable, keras.layers.Dense(2)(x)).save(f / "varlen.keras")

    rng = np.random.default_rng(0)
    ids = rng.integers(2, VOCAB, size=(30, SEQ_LEN)).astype(np.int32)
    labels = rng.integers(0, 2, 30)
    arrays = {
        "data": {"token_ids": ids, "labels": labels},
        "nan": {"token_ids": np.where(ids % 7 == 0, np.nan, ids.astype(float))},
        "inf": {"token_ids": np.full((3, SEQ_LEN), np.inf)},
        "float_ids": {"token_ids": ids.astype(np.float32), "labels": labels},
        "bool_ids": {"token_ids": ids > 10},
        "labels_oor": {"token_ids": ids, "labels": labels + 5},
        "labels_neg": {"token_ids": ids, "labels": labels - 1},
        "labels_float": {"token_ids": ids, "labels": labels + 0.5},
        "labels_nan": {"token_ids": ids, "labels": np.full(30, np.nan)},
        "labels_str": {"token_ids": ids, "labels": np.array(["a"] * 30)},
        "labels_2d": {"token_ids": ids, "labels": np.stack([labels, labels], 1)},
        "mismatch": {"token_ids": ids, "labels": labels[:7]},
        "zero_rows": {"token_ids": np.zeros((0, SEQ_LEN), np.int32)},
        "ids_1d": {"token_ids": ids[0]},
        "ids_3d": {"token_ids": ids[None]},
        "long_rows": {"token_ids": np.ones((4, 500), np.int32)},
        "big_ids": {"token_ids": np.full((2, SEQ_LEN), 2**40, np.int64)},
        "neg_ids": {"token_ids": -ids},
        "int64_max": {"token_ids": np.full((2, SEQ_LEN), np.iinfo(np.int64).max)},
    }
    for name, content in arrays.items():
        np.savez(f / f"{name}.npz", **content)
    np.savez(f / "object.npz", token_ids=np.array([[1, "a"]], dtype=object))

    words = ["<pad>", "<unk>", *WORDS]
    texts = {
        "vocab.txt": "\n".join(words) + "\n",
        "bom_vocab.txt": "\ufeff" + "\n".join(words) + "\n",
        "empty_vocab.txt": "",
        "labels.txt": "negative\npositive\n",
        "bom_labels.txt": "\ufeffnegative\npositive\n",
        "dup_labels.txt": "positive\npositive\n",
        "data.tsv": "1\tw1 w2 w3\n0\tw7 unknown w9\n1\tw10\n",
        "names.tsv": "positive\tw1 w2\nnegative\tw3\n",
        "bom.tsv": "\ufeff1\tw1 w2\n0\tw3\n",
        "header.tsv": "label\ttext\n1\tw1\n",
        "notab.tsv": "positive w1 w2\n",
        "blank.tsv": "\n\n  \n",
        "empty.tsv": "",
        "label7.tsv": "7\tw1\n0\tw2\n",
        "data.csv": "1,w1\n",
    }
    for name, text in texts.items():
        (f / name).write_text(text, encoding="utf-8")
    (f / "bad_utf8.tsv").write_bytes(b"1\tcaf\xe9 w1\n")
    (f / "bad_utf8_labels.txt").write_bytes(b"n\xe9gative\npositive\n")
    for name in ("empty.keras", "empty.tflite", "empty.npz"):
        (f / name).write_bytes(b"")
    keras_bytes = (f / "dan.keras").read_bytes()
    (f / "trunc.keras").write_bytes(keras_bytes[: len(keras_bytes) // 2])
    shutil.copy(f / "dan.keras", f / "model.h5")
    shutil.copy(f / "dan.keras", f / "keras_as.tflite")
    shutil.copy(f / "dan.tflite", f / "model.tfl")
    shutil.copy(os.fsencode(f / "dan.tflite"), os.fsencode(f / NON_UTF8))
    for name in ("dir.keras", "dir.tflite", "dir.npz"):
        (f / name).mkdir()
    for a, b in (("loop1.keras", "loop2.keras"), ("loopa.tflite", "loopb.tflite")):
        os.symlink(f / a, f / b)
        os.symlink(f / b, f / a)
    os.symlink(f / "loopa.npz", f / "loopb.npz")
    os.symlink(f / "loopb.npz", f / "loopa.npz")
    os.mkfifo(f / "fifo.npz")
    # A file that exists but cannot be read, even by root: reading /proc/self/mem
    # at offset 0 is an I/O error.
    for name in ("unreadable.tflite", "unreadable.tsv", "unreadable_vocab.txt"):
        os.symlink("/proc/self/mem", f / name)
    (f / "exists.tflite").write_bytes(b"keep me")
    (f / "exists.png").write_bytes(b"keep me")
    (f / "a_file").write_text("x")

    run = f / "run"
    run.mkdir()
    shutil.copy(f / "dan.tflite", run / "baseline.tflite")
    shutil.copy(f / "lowrank.tflite", run / "compressed.tflite")
    shutil.copy(f / "vocab.txt", run / "vocab.txt")
    shutil.copy(f / "labels.txt", run / "labels.txt")
    (run / "test.tsv").write_text("positive\tw1 w2\nnegative\tw7 w9\npositive\tw10\n")
    content = (f / "dan.tflite").read_bytes()
    variants = {
        "no_vocab": lambda p: (p / "vocab.txt").unlink(),
        "no_test": lambda p: (p / "test.tsv").unlink(),
        "no_baseline": lambda p: (p / "baseline.tflite").unlink(),
        "trunc": lambda p: (p / "compressed.tflite").write_bytes(content[:100]),
        "two": lambda p: shutil.copy(p / "baseline.tflite", p / "baseline_2.tflite"),
        "bad_json": lambda p: (p / "results.json").write_text("{not json"),
        "json_list": lambda p: (p / "results.json").write_text("[]"),
        "bad_label": lambda p: (p / "test.tsv").write_text("neutral\tw1\n"),
        "empty_test": lambda p: (p / "test.tsv").write_text(""),
        "small_vocab": lambda p: (p / "vocab.txt").write_text("<pad>\n<unk>\nw0\n"),
    }
    for name, change in variants.items():
        shutil.copytree(run, f / f"run_{name}")
        change(f / f"run_{name}")
    (f / "empty_run").mkdir()
    os.symlink(f / "run_loop", f / "run_loop")
    return f


def case(name, before, argv, expected=(), code=2, slow=False):
    marks = [pytest.mark.integration] if slow else []
    return pytest.param(before, argv, expected, code, id=name, marks=marks)


CONVERT = ("convert", "{f}/dan.keras", "{out}/o.tflite")
BENCH = ("benchmark", "{f}/dan.tflite")
FAST = ("--runs", "2", "--warmup", "0", "--no-progress")
TSV = ("--vocab", "{f}/vocab.txt")

ERRORS = [
    # --- convert: the model and the output --------------------------------------------
    case("convert-model-is-a-folder", "clear",
         ("convert", "{f}/dir.keras", "{out}/o.tflite"), ["MODEL.keras", "dir.keras"]),
    case("convert-model-empty", "clear",
         ("convert", "{f}/empty.keras", "{out}/o.tflite"), ["empty.keras", "zip"]),
    case("convert-model-truncated", "clear",
         ("convert", "{f}/trunc.keras", "{out}/o.tflite"), ["trunc.keras", "zip"]),
    case("convert-model-h5-suffix", "clear",
         ("convert", "{f}/model.h5", "{out}/o.tflite"), ["MODEL.keras", "model.h5"]),
    case("convert-model-symlink-loop", "clear",
         ("convert", "{f}/loop1.keras", "{out}/o.tflite"), ["loop1.keras"]),
    case("convert-model-is-a-tflite", "clear",
         ("convert", "{f}/dan.tflite", "{out}/o.tflite"), ["MODEL.keras", ".keras"]),
    case("convert-out-is-a-folder", "clear",
         ("convert", "{f}/dan.keras", "{f}/dir.tflite"), ["OUT.tflite", "folder"]),
    case("convert-out-wrong-suffix", "clear",
         ("convert", "{f}/dan.keras", "{out}/o.tfl"), ["OUT.tflite", ".tflite"]),
    case("convert-out-folder-missing", "clear",
         ("convert", "{f}/dan.keras", "{out}/nope/o.tflite"), ["OUT.tflite", "nope"]),
    case("convert-out-exists", "weak",  # said "pass `--overwrite` (`--overwrite`)"
         ("convert", "{f}/dan.keras", "{f}/exists.tflite"),
         ["pass `--overwrite` to replace", "exists.tflite", "no --overwrite"]),
    case("convert-out-name-too-long", "weak",  # exit 1, "[Errno 36]", no flag
         ("convert", "{f}/dan.keras", "{out}/" + LONG),
         ["`OUT.tflite` cannot be used", "File name too long"]),
    # --- convert: flags ---------------------------------------------------------------
    case("convert-seq-len-0", "clear", (*CONVERT, "--seq-len", "0"), ["--seq-len"]),
    case("convert-seq-len-text", "clear", (*CONVERT, "--seq-len", "five"),
         ["--seq-len", "five"]),
    case("convert-seq-len-not-the-models", "clear", (*CONVERT, "--seq-len", "7"),
         ["`--seq-len` must match", "5", "--seq-len 7"]),
    case("convert-seq-len-huge", "defect",  # filled 20 GB until the system killed it
         ("convert", "{f}/varlen.keras", "{out}/o.tflite", "--seq-len", "100000000"),
         ["`--seq-len` must be at most 65,536", "--seq-len 100000000"]),
    case("convert-quantization-upper-case", "clear",
         (*CONVERT, "--quantization", "INT8"), ["--quantization", "'INT8'"]),
    case("convert-import-empty-name", "clear", (*CONVERT, "--import", ""),
         ["(--import) failed", "Empty module name", "--import=''"]),
    case("convert-import-relative", "clear", (*CONVERT, "--import", ".mine"),
         ["importing .mine (--import) failed", "--import='.mine'"]),
    # --- convert: --check-data and --representative-data ------------------------------
    case("convert-check-nan", "clear", (*CONVERT, "--check-data", "{f}/nan.npz"),
         ["`--check-data` must hold integer token ids", "float64"]),
    case("convert-check-inf", "clear", (*CONVERT, "--check-data", "{f}/inf.npz"),
         ["`--check-data`", "float64"]),
    case("convert-check-float-ids", "clear",
         (*CONVERT, "--check-data", "{f}/float_ids.npz"),
         ["`--check-data`", "float32"]),
    case("convert-check-labels-out-of-range", "clear",
         (*CONVERT, "--check-data", "{f}/labels_oor.npz"),
         ["labels of `--check-data`", "[0, 2)", "[5, 6]"]),
    case("convert-check-labels-float", "clear",
         (*CONVERT, "--check-data", "{f}/labels_float.npz"),
         ["labels of `--check-data`", "float64"]),
    case("convert-check-rows-mismatch", "clear",
         (*CONVERT, "--check-data", "{f}/mismatch.npz"), ["(30,)", "(7,)"]),
    case("convert-check-zero-rows", "clear",
         (*CONVERT, "--check-data", "{f}/zero_rows.npz"), ["`--check-data`", "(0, 5)"]),
    case("convert-check-huge-ids", "clear",
         (*CONVERT, "--check-data", "{f}/big_ids.npz"), ["[0, 50)", "1099511627776"]),
    case("convert-check-csv", "clear", (*CONVERT, "--check-data", "{f}/data.csv"),
         ["`--check-data` must be a .npz", "data.csv"]),
    case("convert-check-folder", "clear", (*CONVERT, "--check-data", "{f}/dir.npz"),
         ["`--check-data` must be an existing", "dir.npz"]),
    case("convert-check-symlink-loop", "clear",
         (*CONVERT, "--check-data", "{f}/loopa.npz"), ["`--check-data`", "loopa.npz"]),
    case("convert-check-empty-tsv", "clear",
         (*CONVERT, "--check-data", "{f}/empty.tsv", *TSV), ["no `label<TAB>text`"]),
    case("convert-check-tsv-not-utf8", "weak",  # "'utf-8' codec can't decode..."
         (*CONVERT, "--check-data", "{f}/bad_utf8.tsv", *TSV),
         ["`--check-data`", "not valid UTF-8", "line 1", "bad_utf8.tsv"]),
    case("convert-vocab-empty", "weak",  # the advice twice, two "Received:"
         (*CONVERT, "--check-data", "{f}/data.tsv", "--vocab", "{f}/empty_vocab.txt"),
         ["`--vocab` is not a vocabulary", "'<pad>'", "empty_vocab.txt",
          "!It must start with"]),
    case("convert-labels-twice", "weak",  # "'negative' missing from ['positive']"
         (*CONVERT, "--check-data", "{f}/names.tsv", *TSV,
          "--labels", "{f}/dup_labels.txt"),
         ["`--labels` names 'positive' twice (lines 1 and 2)", "dup_labels.txt"]),
    case("convert-labels-not-utf8", "weak",  # "'utf-8' codec can't decode..."
         (*CONVERT, "--check-data", "{f}/names.tsv", *TSV,
          "--labels", "{f}/bad_utf8_labels.txt"),
         ["`--labels`", "not valid UTF-8", "bad_utf8_labels.txt"]),
    case("convert-verbose-after-the-command", "weak",  # "unrecognized arguments: -v"
         ("convert", "-v", "{f}/missing.keras", "{out}/o.tflite"),
         ["`MODEL.keras` must be an existing", "missing.keras"]),
    # --- benchmark: the file ----------------------------------------------------------
    case("bench-model-empty", "clear", ("benchmark", "{f}/empty.tflite"),
         ["TFL3", "empty.tflite"]),
    case("bench-model-folder", "clear", ("benchmark", "{f}/dir.tflite"),
         ["`MODEL.tflite` must be an existing", "dir.tflite"]),
    case("bench-model-is-a-keras-file", "clear", ("benchmark", "{f}/keras_as.tflite"),
         ["TFL3", "keras_as.tflite"]),
    case("bench-model-symlink-loop", "clear", ("benchmark", "{f}/loopa.tflite"),
         ["MODEL.tflite", "loopa.tflite"]),
    case("bench-model-dev-null", "clear", ("benchmark", "/dev/null"),
         ["MODEL.tflite", "/dev/null"]),
    case("bench-model-unreadable", "weak",  # exit 1, "[Errno 5] Input/output error"
         ("benchmark", "{f}/unreadable.tflite"),
         ["`MODEL.tflite` cannot be used", "Input/output error", "unreadable.tflite"]),
    case("bench-model-name-too-long", "weak",  # exit 1, "[Errno 36]", no flag
         ("benchmark", "{f}/" + LONG), ["`MODEL.tflite` cannot be used", "too long"]),
    # --- benchmark: --data .npz -------------------------------------------------------
    case("bench-data-float-ids", "weak",  # named `token_ids`, not --data
         (*BENCH, "--data", "{f}/float_ids.npz"),
         ["token ids of `--data` must hold integer", "float32"]),
    case("bench-data-bool-ids", "weak", (*BENCH, "--data", "{f}/bool_ids.npz"),
         ["token ids of `--data`", "bool"]),
    case("bench-data-3d", "weak", (*BENCH, "--data", "{f}/ids_3d.npz"),
         ["token ids of `--data`", "(1, 30, 5)"]),
    case("bench-data-rows-too-long", "weak", (*BENCH, "--data", "{f}/long_rows.npz"),
         ["token ids of `--data`", "(4, 500)"]),
    case("bench-data-negative-ids", "weak", (*BENCH, "--data", "{f}/neg_ids.npz"),
         ["token ids of `--data`", "[0, 50)", "[-49, -2]"]),
    case("bench-data-int64-max-ids", "weak", (*BENCH, "--data", "{f}/int64_max.npz"),
         ["token ids of `--data`", "9223372036854775807"]),
    case("bench-data-zero-rows", "weak", (*BENCH, "--data", "{f}/zero_rows.npz"),
         ["token ids of `--data`", "(0, 5)"]),
    case("bench-data-object-array", "clear", (*BENCH, "--data", "{f}/object.npz"),
         ["`--data` is not a readable .npz", "allow_pickle", "object.npz"]),
    case("bench-data-empty-npz", "clear", (*BENCH, "--data", "{f}/empty.npz"),
         ["`--data` is not a readable .npz", "empty.npz"]),
    case("bench-data-fifo", "clear", (*BENCH, "--data", "{f}/fifo.npz"),
         ["`--data` must be an existing", "fifo.npz"]),
    case("bench-labels-negative", "weak", (*BENCH, "--data", "{f}/labels_neg.npz"),
         ["labels of `--data` must be class indices", "[-1, 0]"]),
    case("bench-labels-nan", "weak", (*BENCH, "--data", "{f}/labels_nan.npz"),
         ["labels of `--data`", "float64"]),
    case("bench-labels-strings", "weak", (*BENCH, "--data", "{f}/labels_str.npz"),
         ["labels of `--data`", "<U1"]),
    case("bench-labels-2d", "weak", (*BENCH, "--data", "{f}/labels_2d.npz"),
         ["labels of `--data`", "(30, 2)"]),
    case("bench-output-not-in-the-file", "clear",
         (*BENCH, "--output", "topic", *FAST),
         ["`--output`", "output_0", "topic"]),
    # --- benchmark: --data .tsv, --vocab, --labels ------------------------------------
    case("bench-tsv-header-line", "clear", (*BENCH, "--data", "{f}/header.tsv", *TSV),
         ["Line 1 of `--data`", "'label'"]),
    case("bench-tsv-no-tab", "clear", (*BENCH, "--data", "{f}/notab.tsv", *TSV),
         ["`label<TAB>text`", "line 1"]),
    case("bench-tsv-blank-lines-only", "clear",
         (*BENCH, "--data", "{f}/blank.tsv", *TSV), ["no `label<TAB>text`"]),
    case("bench-tsv-label-names-without-labels", "clear",
         (*BENCH, "--data", "{f}/names.tsv", *TSV), ["--labels labels.txt"]),
    case("bench-tsv-label-out-of-range", "weak",  # named `labels`, not --data
         (*BENCH, "--data", "{f}/label7.tsv", *TSV),
         ["labels of `--data` must be class indices", "[0, 7]"]),
    case("bench-tsv-unreadable", "weak",  # exit 1, "[Errno 5]", neither file nor flag
         (*BENCH, "--data", "{f}/unreadable.tsv", *TSV),
         ["`--data` cannot be used", "Input/output error", "unreadable.tsv"]),
    case("bench-vocab-unreadable", "weak",
         (*BENCH, "--data", "{f}/data.tsv", "--vocab", "{f}/unreadable_vocab.txt"),
         ["`--vocab` cannot be used", "unreadable_vocab.txt"]),
    case("bench-vocab-is-a-folder", "clear",
         (*BENCH, "--data", "{f}/data.tsv", "--vocab", "{f}/dir.npz"),
         ["`--vocab` must be an existing", "dir.npz"]),
    # --- benchmark: run flags ---------------------------------------------------------
    case("bench-threads-0", "clear", (*BENCH, "--threads", "0"), ["--threads"]),
    case("bench-threads-huge", "weak",  # started 100,000 LiteRT threads
         (*BENCH, "--threads", "100000"), ["`--threads` must be <= 256", "100000"]),
    case("bench-runs-text", "clear", (*BENCH, "--runs", "many"), ["--runs", "many"]),
    case("bench-warmup-negative", "clear", (*BENCH, "--warmup", "-1"), ["--warmup"]),
    # --- compare ----------------------------------------------------------------------
    case("compare-reference-out-of-range", "clear",
         ("compare", "{f}/dan.tflite", "{f}/lowrank.tflite", "--data", "{f}/data.npz",
          "--reference", "5"), ["`--reference`", "2 files", "--reference 5"]),
    case("compare-plot-jpg", "clear",
         ("compare", "{f}/dan.tflite", "--data", "{f}/data.npz",
          "--plot", "{out}/p.jpg"),
         ["`--plot` must end in `.png`"]),
    case("compare-plot-exists", "weak",  # "pass `--overwrite` (`--overwrite`)"
         ("compare", "{f}/dan.tflite", "--data", "{f}/data.npz",
          "--plot", "{f}/exists.png"), ["pass `--overwrite` to replace", "exists.png"]),
    case("compare-plot-folder-missing", "clear",
         ("compare", "{f}/dan.tflite", "--data", "{f}/data.npz",
          "--plot", "{out}/nope/p.png"), ["folder of `--plot`", "nope"]),
    case("compare-max-drop-2", "clear",
         ("compare", "{f}/dan.tflite", "--data", "{f}/data.npz",
          "--max-accuracy-drop", "2"), ["--max-accuracy-drop", "[0, 1]"]),
    case("compare-max-drop-nan", "clear",
         ("compare", "{f}/dan.tflite", "--data", "{f}/data.npz",
          "--max-accuracy-drop", "nan"), ["--max-accuracy-drop", "nan"]),
    case("compare-an-empty-file", "clear",
         ("compare", "{f}/dan.tflite", "{f}/empty.tflite", "--data", "{f}/data.npz"),
         ["TFL3", "empty.tflite"]),
    case("compare-without-data", "clear", ("compare", "{f}/dan.tflite"), ["--data"]),
    # --- export-android ---------------------------------------------------------------
    case("android-run-missing", "clear", ("export-android", "{f}/nope", "{out}/a"),
         ["must be an existing folder", "nope"]),
    case("android-run-is-a-file", "clear", ("export-android", "{f}/a_file", "{out}/a"),
         ["must be an existing folder", "a_file"]),
    case("android-run-empty", "clear", ("export-android", "{f}/empty_run", "{out}/a"),
         ["one `baseline*.tflite`", "empty_run"]),
    case("android-run-symlink-loop", "clear",
         ("export-android", "{f}/run_loop", "{out}/a"),
         ["must be an existing folder", "run_loop"]),
    case("android-no-vocab", "weak",  # "No such file; write it with `save` first"
         ("export-android", "{f}/run_no_vocab", "{out}/a"),
         ["no vocab.txt", "run_no_vocab"]),
    case("android-no-test-split", "clear",
         ("export-android", "{f}/run_no_test", "{out}/a"), ["test.tsv", "run_no_test"]),
    case("android-no-baseline", "clear",
         ("export-android", "{f}/run_no_baseline", "{out}/a"), ["baseline*.tflite"]),
    case("android-truncated-model", "defect",  # struct.error traceback
         ("export-android", "{f}/run_trunc", "{out}/a"),
         ["truncated or corrupted", "compressed.tflite"]),
    case("android-two-baselines", "clear", ("export-android", "{f}/run_two", "{out}/a"),
         ["exactly one `baseline*.tflite`", "baseline_2.tflite"]),
    case("android-results-not-json", "clear",
         ("export-android", "{f}/run_bad_json", "{out}/a"), ["results.json", "JSON"]),
    case("android-results-a-list", "clear",
         ("export-android", "{f}/run_json_list", "{out}/a"), ["JSON object"]),
    case("android-unknown-test-label", "clear",
         ("export-android", "{f}/run_bad_label", "{out}/a"), ["'neutral'"]),
    case("android-empty-test-split", "clear",
         ("export-android", "{f}/run_empty_test", "{out}/a"), ["test split is empty"]),
    case("android-vocab-of-another-size", "clear",
         ("export-android", "{f}/run_small_vocab", "{out}/a"),
         ["50 rows", "3 tokens"]),
    case("android-assets-is-a-file", "clear",
         ("export-android", "{f}/run", "{f}/a_file"),
         ["is a file, not a folder", "a_file"]),
    case("android-assets-hold-assets", "weak",  # "pass `overwrite=True`" to a CLI user
         ("export-android", "{f}/run", "{f}/run"),
         ["pass `--overwrite` to replace", "ASSETS_DIR="]),
    case("android-num-golden-0", "clear",
         ("export-android", "{f}/run", "{out}/a", "--num-golden", "0"),
         ["--num-golden"]),
    # --- the command itself -----------------------------------------------------------
    case("top-no-command", "clear", (), ["COMMAND"]),
    case("top-unknown-command", "clear", ("frobnicate",), ["'frobnicate'"]),
    case("env-extra-argument", "clear", ("env", "extra"), ["extra"]),
]  # fmt: skip

WORKS = [
    case("top-version", "weak", ("--version",), ["tflite-lowrank "], code=0),  # none
    case("android-more-golden-than-tests", "correct",
         ("export-android", "{f}/run", "{out}/a", "--num-golden", "1000"),
         ["3 golden"], code=0),
    case("android-one-test-example", "correct",
         ("export-android", "{f}/run", "{out}/a", "--max-test-examples", "1"),
         ["1 test sentences"], code=0),
    case("convert-check-tsv-with-bom", "defect", (*CONVERT, "--check-data",
         "{f}/bom.tsv", *TSV), ["Wrote"], code=0, slow=True),  # label '\ufeff1'
    case("convert-vocab-with-bom", "defect", (*CONVERT, "--check-data", "{f}/data.tsv",
         "--vocab", "{f}/bom_vocab.txt"), ["Wrote"], code=0, slow=True),
    case("convert-labels-with-bom", "defect", (*CONVERT, "--check-data",
         "{f}/names.tsv", *TSV, "--labels", "{f}/bom_labels.txt"), ["Wrote"],
         code=0, slow=True),  # "label 'negative' missing from ['\ufeffnegative', ...]"
    case("convert-int8-json-stdout-only", "correct", (*CONVERT, "--quantization",
         "int8", "--representative-data", "{f}/data.npz", "--json"), ['"int8"'],
         code=0, slow=True),
    case("convert-verbose-after-the-command-converts", "weak",
         ("convert", "-v", "{f}/dan.keras", "{out}/o.tflite"), ["Wrote"], code=0,
         slow=True),
    case("bench-model-non-utf8-name", "defect",  # LiteRT refused the str path
         ("benchmark", "{f}/" + NON_UTF8, *FAST), ["latency"], code=0, slow=True),
    case("bench-model-wrong-suffix", "correct", ("benchmark", "{f}/model.tfl", *FAST),
         ["model.tfl"], code=0, slow=True),
    case("bench-data-one-row-1d", "correct", (*BENCH, "--data", "{f}/ids_1d.npz",
         *FAST), ["1 rows"], code=0, slow=True),
    case("compare-one-file", "correct", ("compare", "{f}/dan.tflite", "--data",
         "{f}/data.npz", *FAST), ["dan.tflite"], code=0, slow=True),
    case("compare-the-same-file-twice", "correct", ("compare", "{f}/dan.tflite",
         "{f}/dan.tflite", "--data", "{f}/data.npz", *FAST), ["dan.tflite"], code=0,
         slow=True),
    case("compare-negative-reference", "correct", ("compare", "{f}/dan.tflite",
         "{f}/lowrank.tflite", "--data", "{f}/data.npz", "--reference", "-1", *FAST),
         ["lowrank.tflite"], code=0, slow=True),
]  # fmt: skip


def expand(argv, files, out):
    return [part.format(f=files, out=out) for part in argv]


def listing(folder: Path) -> list[str]:
    return sorted(os.fsdecode(path) for path in folder.rglob("*"))


@pytest.mark.parametrize(("before", "argv", "expected", "code"), ERRORS)
def test_refused_with_one_line_naming_the_flag(
    files, tmp_path, cli, before, argv, expected, code
):
    shared = listing(files)
    completed = cli(*expand(argv, files, tmp_path))
    assert completed.returncode == code, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    line = completed.stderr.strip().splitlines()[-1]
    assert "error:" in line, line
    for text in expected:  # "!text": must not be said
        assert (text[1:] not in line) if text.startswith("!") else (text in line), line
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert listing(files) == shared


@pytest.mark.parametrize(("before", "argv", "expected", "code"), WORKS)
def test_works(files, tmp_path, cli, before, argv, expected, code):
    completed = cli(*expand(argv, files, tmp_path))
    assert completed.returncode == code, completed.stderr
    for text in expected:
        assert text in completed.stdout, completed.stdout
    if "--json" in argv:
        import json

        json.loads(completed.stdout)  # stdout holds the JSON only


# --- the LiteRT process -------------------------------------------------------------

DYING_WORKERS = {
    # killed (out of memory, `kill -9`): a RuntimeError traceback before
    "killed": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    # a failure after loading, reported by the child: a RuntimeError traceback before
    "failed": (
        "import json, pathlib, sys\npathlib.Path(sys.argv[1], 'report.json')"
        ".write_text(json.dumps({'error': 'MemoryError: boom'}))\n"
    ),
    # killed while writing its report: "Expecting property name ..." before
    "half-report": (
        "import pathlib, sys\npathlib.Path(sys.argv[1], 'report.json')"
        ".write_text('{\"load_time_ms\": 1.')\n"
    ),
}
DYING_EXPECTED = {
    "killed": ["was killed by SIGKILL", "out of memory", "dan.tflite"],
    "failed": ["Benchmarking", "dan.tflite", "failed: MemoryError: boom"],
    "half-report": ["died (exit code 0) before reporting", "dan.tflite"],
}


@pytest.mark.parametrize("command", ["benchmark", "compare"])
@pytest.mark.parametrize("worker", sorted(DYING_WORKERS))
def test_a_dying_litert_process_is_one_error_line(
    files, tmp_path, monkeypatch, cli, worker, command
):
    from tflite_lowrank.benchmark import child

    script = tmp_path / "worker.py"
    script.write_text(DYING_WORKERS[worker])
    monkeypatch.setattr(child, "_WORKER_PATH", script)
    if command == "benchmark":
        completed = cli("benchmark", files / "dan.tflite", *FAST)
    else:
        completed = cli("compare", files / "dan.tflite", "--data", files / "data.npz")
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    line = completed.stderr.strip().splitlines()[-1]
    assert line.startswith(f"tflite-lowrank {command}: error: "), line
    for text in DYING_EXPECTED[worker]:
        assert text in line, line


def test_env_answers_without_importing_tensorflow():
    # Weak before: `env` imported the package (Keras, TensorFlow: 5 s and their
    # start-up lines on stderr) to print version strings.
    import subprocess

    code = (
        "import sys\nfrom tflite_lowrank_cli.main import main\nassert main(['env']) "
        "== 0\nheavy = {'tensorflow', 'keras'} & set(sys.modules)\n"
        "sys.exit(f'imported {heavy}' if heavy else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "keras: " in completed.stdout
    assert completed.stderr == ""


def test_classification_counts():
    """The counts in the report of issue 30's third round (cases of this module)."""
    before = [param.values[0] for param in ERRORS + WORKS]
    counts = {
        kind: before.count(kind) for kind in ("clear", "correct", "weak", "defect")
    }
    assert sum(counts.values()) == len(before)
    assert len(ERRORS) + len(WORKS) >= 60
