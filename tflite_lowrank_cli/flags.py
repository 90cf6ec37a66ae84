"""Error messages in the words of the command line: flags, not Python arguments.

Private part of `tflite_lowrank_cli.main`. The library's errors name its Python
arguments (`seq_len`, `keep_logits=True`); a user of `tflite-lowrank` typed flags
(`--seq-len`, `--keep-logits`). `with_flag_names` wraps a subcommand's handler so
that the errors it lets through name the flags instead (`to_flags`), and
`import_hint` adds the `--import` hint to a model that needs a layer Keras cannot
find. Only the standard library is imported: `--help` imports this module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

# Python argument -> the flag that sets it (for the subcommands that have it).
_FLAGS = {
    "seq_len": "--seq-len",
    "representative_data": "--representative-data",
    "check_data": "--check-data",
    "quantization": "--quantization",
    "keep_logits": "--keep-logits",
    "fold_projection": "--no-fold-projection",
    "output": "--output",
    "reference": "--reference",
    "num_threads": "--threads",
    "warmup_runs": "--warmup",
    "num_runs": "--runs",
    "overwrite": "--overwrite",
}
# Whole phrases first: switches are named by the flag alone.
_PHRASES = (
    ("`overwrite=True` (`--overwrite`)", "`--overwrite`"),
    ("keep_logits=True", "--keep-logits"),
    ("keep_logits=False", "no --keep-logits"),
    ("fold_projection=False", "--no-fold-projection"),
    ("fold_projection=True", "no --no-fold-projection"),
    ("overwrite=True", "--overwrite"),
    ("overwrite=False", "no --overwrite"),
    ("`check_data[0]`", "the token ids of `--check-data`"),
    ("`check_data[1]`", "the labels of `--check-data`"),
    ("check_data[1]", "--check-data labels"),
)
# An argument name not inside another word, path or quoted string.
_BEFORE = r"(?<![\w\-'\"./\[])"


# `benchmark` and `compare` pass the rows and labels of `--data` as `token_ids` and
# `labels`.
DATA_PHRASES = (
    ("`token_ids` must", "the token ids of `--data` must"),
    ("Received: token_ids with", "Received: --data token ids with"),
    ("Received: token_ids of type", "Received: --data of type"),
    ("of `token_ids`", "of the token ids of `--data`"),
    ("`labels` must", "the labels of `--data` must"),
    ("Received: labels ", "Received: --data labels "),
)

# `export-android` passes its positional arguments as `run_dir` and `assets_dir`.
ANDROID_PHRASES = (
    ("`run_dir`", "`RUN_DIR`"),
    ("run_dir=", "RUN_DIR="),
    ("`assets_dir`", "`ASSETS_DIR`"),
    ("assets_dir=", "ASSETS_DIR="),
)


def to_flags(text: str, phrases: tuple[tuple[str, str], ...] = ()) -> str:
    """Names the flags where `text` names the library's arguments.

    `` `seq_len` `` becomes `` `--seq-len` ``, `seq_len=None` becomes `no --seq-len`,
    `quantization='int8'` becomes `--quantization int8` and `keep_logits=True`
    becomes `--keep-logits`. `phrases` (a subcommand's own, e.g. `DATA_PHRASES`) are
    replaced first. Other words are left alone.
    """
    for phrase, flag_text in (*phrases, *_PHRASES):
        text = text.replace(phrase, flag_text)
    for name, flag in _FLAGS.items():
        text = text.replace(f"`{name}`", f"`{flag}`")
        text = re.sub(rf"{_BEFORE}{name}=None\b", f"no {flag}", text)
        text = re.sub(rf"{_BEFORE}{name}='([^']*)'", rf"{flag} \1", text)
        text = re.sub(rf"{_BEFORE}{name}=", f"{flag} ", text)
    return text


def import_hint(text: str) -> str:
    """`text` with a hint to `--import` when Keras could not find a layer class."""
    if "Could not locate" not in text and "Unknown layer" not in text:
        return text
    return (
        f"{text} If MODEL.keras uses layers or functions of your own, pass "
        "`--import MODULE`, the module that defines them and registers them with "
        "`@keras.saving.register_keras_serializable()` (importable from the "
        "current folder)."
    )


def with_flag_names(
    handler: Callable | None = None, *, phrases: tuple[tuple[str, str], ...] = ()
) -> Callable:
    """Wraps a handler: the errors it raises name flags (`to_flags`, with the
    subcommand's `phrases`). Used bare (`@with_flag_names`) or with `phrases`."""
    if handler is None:
        return functools.partial(with_flag_names, phrases=phrases)

    @functools.wraps(handler)
    def wrapped(args):
        try:
            return handler(args)
        except (ValueError, TypeError, FileNotFoundError, FileExistsError) as error:
            if len(error.args) == 1 and isinstance(error.args[0], str):
                error.args = (to_flags(error.args[0], phrases),)
            raise

    return wrapped
