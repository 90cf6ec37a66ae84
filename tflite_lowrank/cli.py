"""Public import path `tflite_lowrank.cli`, kept stable for users.

The command line lives in the top-level package `tflite_lowrank_cli`, so that
`tflite-lowrank --help` answers without importing Keras.
"""

from tflite_lowrank_cli.main import main

__all__ = ["main"]
