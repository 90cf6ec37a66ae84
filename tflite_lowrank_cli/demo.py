"""The `demo` and `export-android` subcommands: their parsers and handlers.

Private part of `tflite_lowrank_cli.main`, whose `_build_parser` registers them. `demo`
trains, converts and benchmarks two models into a run folder
(`tflite_lowrank.apps.demo.run`); `export-android` writes a finished run folder as the
Android app's assets (`tflite_lowrank.apps.android.export`). The handlers import those
modules, and so TensorFlow, lazily.
"""

from __future__ import annotations

import argparse
import sys

from tflite_lowrank_cli.flags import ANDROID_PHRASES, with_flag_names
from tflite_lowrank_cli.inputs import _PROG, _positive_int


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
            "rotten_tomatoes (default), r8, r52, 20newsgroups or bbc; see docs/data.md."
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
        "--fixed-basis",
        action="store_true",
        help=(
            "Keep the factors' bases fixed after the split (train_basis=False; "
            "an opt-in for the DAN, see docs/user-guide.md for where it helps; "
            "the LSTM's "
            "default at compression >= 0.85)."
        ),
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help=(
            "Weight the split by the loss on 3,200 random training texts "
            "(calibration_data=)."
        ),
    )
    parser.add_argument(
        "--weighting",
        choices=("auto", "none", "consumer"),
        default="auto",
        help=(
            "consumer: weight the split by the input kernel of the layer that reads "
            "the vectors, without data (weighting=); none: the paper's plain SVD; "
            "auto (default): consumer with fixed bases for the LSTM at "
            "compression >= 0.85, none otherwise. With --fixed-basis, consumer is "
            "the data-free option for Rotten Tomatoes."
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
    from tflite_lowrank.apps.demo import run as demo
    from tflite_lowrank.errors import OutputMismatchError

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
            train_basis=False if args.fixed_basis else None,
            calibrate=args.calibrate,
            weighting=args.weighting,
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


@with_flag_names(phrases=ANDROID_PHRASES)
def _handle_export_android(args: argparse.Namespace) -> int:
    from tflite_lowrank.apps.android.export import export_android_assets

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
