"""The `convert`, `benchmark` and `compare` subcommands: their parsers.

Private part of `tflite_lowrank_cli.main`, whose `_build_parser` registers them.
`convert` turns a .keras model into a .tflite file; `benchmark` and `compare` run
.tflite files in LiteRT. Their handlers are in `tflite_lowrank_cli.handlers`.
"""

from __future__ import annotations

import argparse

from tflite_lowrank_cli.handlers import (
    _handle_benchmark,
    _handle_compare,
    _handle_convert,
)
from tflite_lowrank_cli.inputs import (
    _add_data_arguments,
    _add_tokenizer_argument,
    _fraction,
    _non_negative_int,
    _positive_int,
)

_QUANTIZATION_CHOICES = (
    *("float32", "dynamic", "float16", "int8", "int4"),
    *("int8_rows", "int4_rows"),
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
    parser.add_argument(
        "--output",
        metavar="NAME",
        help=(
            "The output to score, for files with several outputs (a model with "
            "several heads). A per-token output [1, seq_len, num_tags] is scored per "
            "token with labels [n, seq_len] in the .npz, padding (id 0) ignored."
        ),
    )


def _add_convert_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="Convert a .keras model to a .tflite file (builtin ops, I/O contract).",
        description=(
            "Convert a Keras text classifier to a .tflite file that runs on the "
            "stock LiteRT runtime: signature serving_default, input token_ids int32 "
            "[1, seq_len] (a model with several token inputs keeps their names), "
            "output float32 [1, num_labels] probabilities (a binary classifier's "
            "sigmoid p as [1 - p, p]; several outputs keep their names, a per-token "
            "output is [1, seq_len, num_tags]). Models whose inputs are not token "
            "ids (strings, float features) are refused."
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
            "int8 (full integer, needs --representative-data), int4 (4-bit "
            "embedding table, int8 matrix weights, Conv1D included), int8_rows or "
            "int4_rows (int8 or 4-bit codes with one scale per row, read by "
            "EMBEDDING_LOOKUP). Default: float32."
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
    parser.add_argument(
        "--check-data",
        metavar="FILE",
        help=(
            "Held-out rows the converted file is checked on against Keras (all of "
            "them): .npz with `token_ids` and optional `labels`, or .tsv of "
            "label<TAB>text with --vocab (and --labels for label names). With "
            "labels, the accuracy of the file and of Keras is reported."
        ),
    )
    parser.add_argument("--vocab", metavar="VOCAB_TXT", help="vocab.txt for a .tsv.")
    parser.add_argument(
        "--labels",
        metavar="LABELS_TXT",
        help="labels.txt mapping the label names of a --check-data .tsv to indices.",
    )
    _add_tokenizer_argument(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace OUT.tflite if it exists."
    )
    parser.add_argument(
        "--keep-logits",
        action="store_true",
        help=(
            "Keep the outputs as the model computes them: no softmax appended to "
            "logits, a 1-wide sigmoid kept 1-wide (scored at 0.5)."
        ),
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
