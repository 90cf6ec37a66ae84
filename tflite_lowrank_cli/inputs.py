"""What the subcommands share: the program name, argument types and the rows input.

Private part of `tflite_lowrank_cli.main`. The rows input is `--data`, `--vocab`,
`--tokenizer` and `--labels` (and `convert --representative-data`): a .npz of token ids
or a .tsv of `label<TAB>text` lines. `--vocab` is our vocab.txt or one line per entry
of a Keras `TextVectorization.get_vocabulary()` (an empty first line, then `[UNK]`).
`_check_data_path` checks it before TensorFlow is imported, so that usage errors are
reported at once; `_load_data` then reads it at the model's
`seq_len`. Only the standard library is imported at the top: `--help` imports this
module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

_PROG = "tflite-lowrank"
_TOKENIZERS = ("auto", "clean", "text_vectorization")


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
            "`labels` (a model with several inputs: one array per input name), or a "
            ".tsv of `label<TAB>text` lines (needs --vocab)."
        ),
    )
    parser.add_argument(
        "--vocab",
        metavar="VOCAB_TXT",
        help=(
            "vocab.txt used to tokenize a .tsv (one token per line, line = id; a "
            "Keras TextVectorization get_vocabulary() too)."
        ),
    )
    _add_tokenizer_argument(parser)
    parser.add_argument(
        "--labels",
        metavar="LABELS_TXT",
        help="labels.txt mapping the label names of a .tsv to class indices.",
    )


def _add_tokenizer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tokenizer",
        choices=_TOKENIZERS,
        default="auto",
        help=(
            "How a .tsv is tokenized: `clean` (this package's rules), "
            "`text_vectorization` (a default keras.layers.TextVectorization), or "
            "`auto`: text_vectorization when --vocab starts with an empty line and "
            "[UNK], else clean. Default: auto."
        ),
    )


def _tflite_input(path: str, name: str) -> tuple[list[tuple[str, int]], int | None]:
    """The inputs `(name, length)` of a .tflite file and the rows of its token table.

    The rows are None unless the file gathers from exactly one table (a banded file
    has one table per band, none of them the whole vocabulary).
    """
    from tflite_lowrank.litert import contract as _contract
    from tflite_lowrank.litert import flatbuffer as _flatbuffer
    from tflite_lowrank.utils.checks import path_message

    try:
        _, info = _flatbuffer.read_and_inspect(path, name=name)
    except FileNotFoundError:
        raise
    except OSError as error:  # unreadable, a name too long, ...: name the argument
        raise ValueError(path_message(name, path, error)) from None
    problems = _contract.contract_problems(info, multi_input=True, multi_output=True)
    if problems:
        raise ValueError(
            "The file does not follow the I/O contract (see docs/contracts.md): "
            + "; ".join(problems)
            + f". Received: {name}={path!r}"
        )
    rows = (
        info.embedding_tables[0].shape[0] if len(info.embedding_tables) == 1 else None
    )
    return [(spec.name, spec.shape[1]) for spec in info.inputs], rows


def _check_data_path(path: str, flag: str, vocab: str | None) -> None:
    from pathlib import Path

    from tflite_lowrank.utils.checks import check_path

    check_path(flag, path)
    if vocab is not None:
        check_path("--vocab", vocab)
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
    tables: Sequence[tuple[str, int | None]] = (),
    tokenizer_mode: str = "auto",
    input_names: Sequence[str] = ("token_ids",),
    model: str = "",
):
    """Reads token ids (and labels, when present) from a .npz or a .tsv file.

    A .tsv holds `label<TAB>text` lines; without `with_labels` the label column is
    ignored and lines of bare text are accepted too. `tables` are the models' files
    and the rows of their token tables (None: unknown): `--vocab` must have as many
    tokens as each. `tokenizer_mode` is `--tokenizer`. A model with several
    `input_names` (named by `model` in messages) reads a .npz with exactly one array
    per input (and `labels`), and returns the token ids as a dict keyed by input name.
    """
    from pathlib import Path

    import numpy as np

    if Path(path).suffix == ".npz":
        try:  # Our own handle: NumPy leaves its own open when the zip is broken.
            with (
                open(path, "rb") as handle,
                np.load(handle, allow_pickle=False) as archive,
            ):
                arrays = {key: archive[key] for key in archive.files}
        except Exception as error:  # BadZipFile, EOFError, a .npy (no `with`)...
            raise ValueError(
                f"`{flag}` is not a readable .npz archive: it is truncated, corrupted "
                f"or not a zip file ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); write it with "
                f"`numpy.savez`. Received: {flag}={path!r}"
            ) from None
        if len(input_names) > 1:
            from tflite_lowrank.litert.rows import check_input_keys

            check_input_keys(
                list(arrays),
                list(input_names),
                what=f"`{flag}` ({path!r})",
                model=model,
                received=f"{flag}={path!r}",
                optional=("labels",),
            )
            return {name: arrays[name] for name in input_names}, arrays.get("labels")
        if "token_ids" not in arrays:
            raise ValueError(
                f"`{flag}` must hold an array `token_ids`. "
                f"Received: {path!r} with arrays {sorted(arrays)}"
            )
        return arrays["token_ids"], arrays.get("labels")

    if len(input_names) > 1:
        raise ValueError(
            f"The model {model} has several inputs, {list(input_names)}, and a .tsv "
            f"holds one text per line: pass a .npz for `{flag}` with one array of "
            f"token ids per input (and optionally `labels`). Received: {flag}={path!r}"
        )
    from tflite_lowrank.data.tokenizer import Tokenizer

    vocabulary = _read_lines(vocab, "--vocab")
    try:
        tokenizer = Tokenizer(
            vocabulary,
            seq_len=seq_len,
            mode=None if tokenizer_mode == "auto" else tokenizer_mode,
        )
    except ValueError as error:  # The tokenizer says what a vocabulary starts with.
        what, _, received = str(error).partition(" Received: ")
        received = f" with {received}" if received else ""
        raise ValueError(
            f"`--vocab` is not a vocabulary: {what} Received: --vocab={vocab!r}"
            f"{received}"
        ) from None
    for model, rows in tables:
        if rows is not None and rows != tokenizer.vocabulary_size:
            raise ValueError(
                f"`--vocab` has {tokenizer.vocabulary_size} tokens but the token "
                f"table of {model} has {rows} rows: the vocabulary and the model must "
                f"come from the same run. Received: vocab={vocab!r}"
            )
    names = None
    if labels_file is not None:
        names = _label_indices(_read_lines(labels_file, "--labels"), labels_file)
    content = _read_text(path, flag).replace("\r\n", "\n").replace("\r", "\n")
    texts, labels = _parse_tsv(content, flag, names, with_labels=with_labels)
    if not texts:
        raise ValueError(
            f"`{flag}` has no `label<TAB>text` lines. Received: {flag}={path!r}"
        )
    token_ids = tokenizer.encode(texts)
    return token_ids, np.asarray(labels, dtype=np.int64) if with_labels else None


def _parse_tsv(
    content: str, flag: str, names: dict[str, int] | None, *, with_labels: bool
) -> tuple[list[str], list[int]]:
    """The texts and labels of `label<TAB>text` lines (bare text without labels)."""
    texts, labels = [], []
    for number, line in enumerate(content.split("\n"), start=1):
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
    return texts, labels


def _read_lines(path: str, flag: str) -> list[str]:
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"`{flag}` must be an existing file. Received: {path!r}"
        )
    return _read_text(path, flag).removesuffix("\n").split("\n")


def _read_text(path: str, flag: str) -> str:
    """The UTF-8 text of the file given to `flag`, without a byte order mark.

    A file that cannot be read, or is not UTF-8 (the message names the line and the
    byte offset: `data.vocab_files.read_utf8`), is a ValueError naming the flag.
    """
    from tflite_lowrank.data.vocab_files import read_utf8
    from tflite_lowrank.utils.checks import path_message

    try:
        text = read_utf8(path)
    except OSError as error:  # e.g. an I/O error on a broken disk or mount
        raise ValueError(path_message(flag, path, error)) from None
    except ValueError as error:  # not UTF-8
        message = str(error).split(" Received: ")[0]
        raise ValueError(f"`{flag}`: {message} Received: {flag}={path!r}") from None
    return text.removeprefix("\ufeff")  # Saved by Notepad or Excel as "UTF-8 BOM".


def _label_indices(names: list[str], path: str) -> dict[str, int]:
    """`{label name: class index}` from the lines of `--labels`; a name given twice
    would leave a class without a name."""
    indices: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in indices:
            raise ValueError(
                f"`--labels` names {name!r} twice (lines {indices[name] + 1} and "
                f"{index + 1}): one name per class, line = class index. "
                f"Received: --labels={path!r}"
            )
        indices[name] = index
    return indices
