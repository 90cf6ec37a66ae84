"""Files the package writes: output paths checked first, then written atomically.

`check_input_file` and `check_output_file` check a path argument before any work (the
house message: what is wrong, then `Received: name=value`); `write_atomically` writes
through a temporary file in the same folder and `os.replace`; `write_tsv` writes the
`label<TAB>text` files of the demo and the Android assets. Standard library only
(and `utils.checks`; `psutil` to find stale temporaries).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from tflite_lowrank.utils.checks import check_path

_TSV_SPACES = str.maketrans({"\t": " ", "\r": " ", "\n": " "})


def check_input_file(
    path: os.PathLike[str] | str, *, suffix: str, name: str, hint: str = ""
) -> Path:
    """Checks an input path: a path-like naming an existing file ending in `suffix`.

    Args:
        path: The value received.
        suffix: String. The required suffix, e.g. `".keras"`.
        name: String. The argument's name in messages.
        hint: String. Appended to the suffix message, e.g. how such a file is made.

    Raises:
        TypeError: if `path` is not path-like.
        FileNotFoundError: if there is no such file.
        ValueError: for the wrong suffix.
    """
    path = check_path(name, path)
    if not path.is_file():
        raise FileNotFoundError(
            f"`{name}` must be an existing `{suffix}` file. "
            f"Received: {name}={str(path)!r}"
        )
    if path.suffix != suffix:
        raise ValueError(
            f"`{name}` must be a `{suffix}` file{hint}. Received: {name}={str(path)!r}"
        )
    return path


def check_output_file(
    path: os.PathLike[str] | str, *, suffix: str, name: str, overwrite: bool
) -> Path:
    """Checks an output path: suffix, existing folder, no file unless overwriting.

    Raises:
        TypeError: if `path` is not path-like.
        ValueError: for the wrong suffix or a folder.
        FileNotFoundError: if the folder does not exist.
        FileExistsError: if the file exists and `overwrite` is False.
    """
    path = check_path(name, path)
    if path.suffix != suffix:
        raise ValueError(
            f"`{name}` must end in `{suffix}`. Received: {name}={str(path)!r}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder of `{name}` must exist; create it first. "
            f"Received: {name}={str(path)!r}"
        )
    if path.is_dir():
        raise ValueError(
            f"`{name}` is a folder, not a file. Received: {name}={str(path)!r}"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"`{name}` exists; pass `overwrite=True` (`--overwrite`) to replace it. "
            f"Received: {name}={str(path)!r}, overwrite=False"
        )
    _check_writable_folder(path, name)
    return path


def _check_writable_folder(path: Path, name: str) -> None:
    """Raises `PermissionError` now if no file can be created in `path`'s folder.

    A probe file is created and removed, which also catches a read-only file system
    (where `os.access` says yes to root): the error comes before any work, not after
    it.
    """
    try:
        handle, probe = tempfile.mkstemp(
            prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-",
            suffix=_TEMPORARY_SUFFIX,
            dir=path.parent,
        )
    except OSError as error:
        raise PermissionError(
            error.errno,
            f"The folder of `{name}` is not writable ({error.strerror}); choose "
            f"another folder or fix its permissions. Received: {name}={str(path)!r}",
        ) from None
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def write_atomically(
    path: Path, write: Callable[[str], None], *, overwrite: bool
) -> None:
    """Writes `path` through a temporary file in the same folder, then `os.replace`.

    `write(temporary_path)` produces the content. On any failure or interruption the
    temporary file is removed and an existing `path` is left untouched. The temporary
    name is short (`.tflite-lowrank-<pid>-<random>.tmp`), so that any legal output
    name, up to the 255-byte limit, can be written. A process killed while writing
    (SIGKILL) cannot remove its temporary file: the next write into that folder
    removes the temporaries of this pattern whose process is gone.
    """
    _remove_stale_temporaries(path.parent)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-",
            suffix=_TEMPORARY_SUFFIX,
            dir=path.parent,
        )
    except OSError as error:
        raise _write_error(error, path) from None
    os.close(handle)
    try:
        try:
            write(temporary)
        except OSError as error:
            if error.errno not in _WRITE_ERRNOS:
                raise
            raise _write_error(error, path) from None
        os.chmod(temporary, 0o666 & ~_umask())
        if not overwrite and path.exists():  # Created while we were working.
            raise FileExistsError(
                "The output file was created by someone else meanwhile; pass "
                "`overwrite=True` (`--overwrite`) to replace it. "
                f"Received: path={str(path)!r}, overwrite=False"
            )
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


_TEMPORARY_PREFIX = ".tflite-lowrank-"
_TEMPORARY_SUFFIX = ".tmp"
# Errors of the output folder itself (no room, no permission, read-only, quota), which
# name the output, not the temporary file.
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.EDQUOT, errno.EFBIG}
)


def _write_error(error: OSError, path: Path) -> OSError:
    """`error`, with a message that names the output file instead of the temporary."""
    return type(error)(
        error.errno,
        f"Could not write {str(path)!r}: {error.strerror}. Nothing was written there "
        "(an existing file is unchanged); free space or choose another folder.",
    )


def _remove_stale_temporaries(folder: Path) -> None:
    """Removes `write_atomically`'s temporaries in `folder` whose process is gone.

    Best effort: a file that cannot be listed or removed is left alone, and the
    temporaries of live processes (writing right now) are kept.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (
            name.startswith(_TEMPORARY_PREFIX) and name.endswith(_TEMPORARY_SUFFIX)
        ):
            continue
        pid_text = name[len(_TEMPORARY_PREFIX) :].partition("-")[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    import psutil  # A dependency; `os.kill(pid, 0)` would end the process on Windows.

    return psutil.pid_exists(pid)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_tsv(path: os.PathLike[str] | str, rows: Iterable[Sequence[str]]) -> int:
    """Writes rows of strings as tab-separated lines; returns the number of lines.

    UTF-8 with `\\n` line ends. Tabs and line breaks inside a field become spaces, so
    that every row stays one line of the same number of fields.

    Example:

    ```python
    write_tsv("test.tsv", zip(label_names_of_rows, texts))  # label<TAB>text
    ```
    """
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        for row in rows:
            file.write("\t".join(field.translate(_TSV_SPACES) for field in row) + "\n")
            count += 1
    return count
