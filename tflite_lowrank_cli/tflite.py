"""The `convert`, `benchmark` and `compare` subcommands: their parsers and handlers.

Private part of `tflite_lowrank_cli.main`, whose `_build_parser` registers them.
`convert` turns a .keras model into a .tflite file; `benchmark` and `compare` run
.tflite files in LiteRT. Cheap checks (paths, modes, numbers) happen before TensorFlow
is imported, so that usage errors are reported at once: the handlers import `convert`
and `benchmark` lazily.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tflite_lowrank_cli.inputs import (
    _PROG,
    _add_data_arguments,
    _add_tokenizer_argument,
    _check_data_path,
    _fraction,
    _load_data,
    _non_negative_int,
    _positive_int,
    _tflite_input,
)

_QUANTIZATION_CHOICES = ("float32", "dynamic", "float16", "int8", "int4")


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
            "[1, seq_len] (a model with several token inputs keeps their names), "
            "output float32 [1, num_labels] probabilities. Models whose inputs are "
            "not token ids (strings, float features) are refused."
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
            "Rows for int8 calibration and the output check: .npz with `token_ids` "
            "(several inputs: one array per input name), or .tsv with --vocab."
        ),
    )
    parser.add_argument("--vocab", metavar="VOCAB_TXT", help="vocab.txt for a .tsv.")
    _add_tokenizer_argument(parser)
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
        "--import",
        dest="imports",
        metavar="MODULE",
        action="append",
        default=[],
        help=(
            "Import this module before loading MODEL.keras, e.g. the one that "
            "registers your custom layers with "
            "`keras.saving.register_keras_serializable` (repeatable; found from the "
            "current folder too)."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="Write the result as JSON to stdout."
    )
    parser.set_defaults(handler=_handle_convert)


def _import_modules(names: list[str]) -> None:
    """Imports the user's modules (`--import`); a failure names the module."""
    import importlib
    import os

    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # As `python -m` does; the script does not.
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # ImportError, or an error raised by the module.
            message = str(error).splitlines()[0] if str(error) else ""
            raise ValueError(
                f"`--import` could not import the module {name!r} "
                f"({type(error).__name__}: {message}); check its name and that it "
                "is importable from the current folder or the environment. "
                f"Received: import={name!r}"
            ) from None


def _handle_convert(args: argparse.Namespace) -> int:
    from tflite_lowrank.export.keras_model import check_keras_file
    from tflite_lowrank.utils.files import check_output_file

    output = check_output_file(
        args.output, suffix=".tflite", name="OUT.tflite", overwrite=args.overwrite
    )
    model_path = check_keras_file(args.model, name="MODEL.keras")
    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError(
            "`--quantization int8` calibrates on real rows: pass "
            "`--representative-data FILE` (a few hundred training rows), or use "
            "`--quantization dynamic`. Received: representative_data=None"
        )
    if args.representative_data is not None:
        _check_data_path(args.representative_data, "--representative-data", args.vocab)

    from tflite_lowrank.errors import OutputMismatchError
    from tflite_lowrank.export import converter as convert

    _import_modules(args.imports)
    model = convert.load_keras_model(model_path)
    representative_data = None
    input_names = convert.model_input_names(model)
    if args.representative_data is not None:
        seq_len = args.seq_len or convert.model_seq_len(model)
        if seq_len is None and len(input_names) < 2:
            raise ValueError(
                "The model's input length is not fixed: pass `--seq-len`. "
                "Received: seq_len=None"
            )
        representative_data, _ = _load_data(
            args.representative_data,
            flag="--representative-data",
            vocab=args.vocab,
            labels_file=None,
            seq_len=seq_len or 1,
            with_labels=False,
            tokenizer_mode=args.tokenizer,
            input_names=input_names if len(input_names) > 1 else ("token_ids",),
            model=f"MODEL.keras={args.model!r}",
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
        inputs = ", ".join(
            f"{spec.name} {spec.dtype} {list(spec.shape)}" for spec in result.inputs
        )
        (out,) = result.outputs
        print(
            f"Wrote {result.path}: {result.size_bytes:,} bytes, {result.quantization}, "
            f"embedding {result.embedding_bytes:,} bytes; "
            f"input{'s' if len(result.inputs) > 1 else ''} {inputs}, "
            f"output {out.dtype} {list(out.shape)}"
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
    from tflite_lowrank.benchmark import api as benchmark

    inputs, rows = _tflite_input(args.model, "MODEL.tflite")
    token_ids = labels = None
    if args.data is not None:
        _check_data_path(args.data, "--data", args.vocab)
        token_ids, labels = _load_data(
            args.data,
            flag="--data",
            vocab=args.vocab,
            labels_file=args.labels,
            seq_len=inputs[0][1],
            tables=[(args.model, rows)],
            tokenizer_mode=args.tokenizer,
            input_names=[name for name, _ in inputs],
            model=f"MODEL.tflite={args.model!r}",
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
                    "input: "
                    + ", ".join(f"{name} int32 [1, {size}]" for name, size in inputs)
                    + f", {result.num_samples} rows; threads: {result.num_threads}",
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
    from tflite_lowrank.benchmark import api as benchmark
    from tflite_lowrank.utils.files import check_output_file

    if not -len(args.models) <= args.reference < len(args.models):
        raise ValueError(
            f"`--reference` must index one of the {len(args.models)} files. "
            f"Received: reference={args.reference}"
        )
    if args.plot is not None:
        check_output_file(
            args.plot, suffix=".png", name="--plot", overwrite=args.overwrite
        )
    inputs = [_tflite_input(path, "MODEL.tflite") for path in args.models]
    first = inputs[0][0]  # The other files are checked against the rows read here.
    _check_data_path(args.data, "--data", args.vocab)
    token_ids, labels = _load_data(
        args.data,
        flag="--data",
        vocab=args.vocab,
        labels_file=args.labels,
        seq_len=first[0][1],
        tables=[
            (path, rows) for path, (_, rows) in zip(args.models, inputs, strict=True)
        ],
        tokenizer_mode=args.tokenizer,
        input_names=[name for name, _ in first],
        model=f"MODEL.tflite={args.models[0]!r}",
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
        # The command line logs its diagnostics as `tflite_lowrank_cli.main`.
        logging.getLogger("tflite_lowrank_cli.main").info(
            "Saved the plot to %s.", args.plot
        )
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
