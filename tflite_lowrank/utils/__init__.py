"""Small helpers every part may use: argument checks, atomic files, versions and
optional dependencies. Nothing here imports the rest of the package."""

from tflite_lowrank.utils.checks import (
    check_bool,
    check_compression,
    check_dir,
    check_energy,
    check_fraction,
    check_int,
    check_path,
    check_texts,
    python_number,
)
from tflite_lowrank.utils.files import (
    check_input_file,
    check_output_file,
    write_atomically,
    write_tsv,
)
from tflite_lowrank.utils.optional import require
from tflite_lowrank.utils.versions import version

__all__ = [
    "check_bool",
    "check_compression",
    "check_dir",
    "check_energy",
    "check_fraction",
    "check_int",
    "check_path",
    "check_texts",
    "python_number",
    "check_input_file",
    "check_output_file",
    "write_atomically",
    "write_tsv",
    "require",
    "version",
]
