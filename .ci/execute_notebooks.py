"""Executes the notebooks in place, so that they are committed with their outputs.

Usage (from the repository root, after `bash .ci/setup.sh`):

    .venv/bin/python .ci/execute_notebooks.py                   # all of notebooks/
    .venv/bin/python .ci/execute_notebooks.py notebooks/01_quickstart.ipynb

Each notebook runs top to bottom in a fresh `python3` kernel of this interpreter, in
`notebooks/`, as `tests/test_notebooks.py` runs it. Nothing volatile is written: no
per-cell timestamps (`record_timing=False`), and the pieces of each stream are
merged into one output per stream (`coalesce_streams=True`). The slow test
then checks that the committed outputs still have the shape a fresh run gives.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def execute(path: Path, *, timeout: int = 1200) -> nbformat.NotebookNode:
    """Returns the notebook at `path` executed in a fresh kernel (not written)."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        notebook = execute(path)
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
        seconds = time.perf_counter() - start
        print(f"{path}: executed in {seconds:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
