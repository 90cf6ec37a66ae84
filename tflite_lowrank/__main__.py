"""`python -m tflite_lowrank` runs the command-line tool."""

import sys

from tflite_lowrank_cli.main import main

sys.exit(main())
