"""The `tflite-lowrank` command line (see `tflite_lowrank_cli.main`)."""

from tflite_lowrank_cli.main import main

__all__ = ["main"]
