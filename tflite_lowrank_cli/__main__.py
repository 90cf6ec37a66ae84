"""`python -m tflite_lowrank_cli` runs the `tflite-lowrank` command line."""

import sys

from tflite_lowrank_cli.main import main

sys.exit(main())
