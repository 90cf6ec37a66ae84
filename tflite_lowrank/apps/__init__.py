"""Orchestration on top of the package: the demo and the Android export.

Nothing in the package imports `apps`; the command line (`tflite_lowrank_cli`) calls
it. `demo.run_demo` trains, converts and compares a baseline and a compressed model
on real data; `android.export_android_assets` writes the assets the Android demo app
reads (`docs/contracts.md`).
"""

from tflite_lowrank.apps.android import (
    AndroidExport,
    check_android_assets,
    export_android_assets,
)
from tflite_lowrank.apps.demo import DemoResult, run_demo

__all__ = [
    "run_demo",
    "DemoResult",
    "export_android_assets",
    "check_android_assets",
    "AndroidExport",
]
