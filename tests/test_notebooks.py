"""The notebooks run top to bottom in a fresh kernel of this interpreter (nbclient).

The kernel is the `python3` kernelspec. Its `argv[0]` is `python`, which
`jupyter_client` replaces by the interpreter running the tests, so the notebooks see
this venv and its `tflite_lowrank`; `test_python3_kernel_runs_this_interpreter` checks
that (a user-level `python3` kernelspec pointing elsewhere would break it).
"""

import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
_KERNEL = "python3"


def _execute(notebook, *, timeout: int):
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=_KERNEL,
        timeout=timeout,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return notebook


def _text_outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


def test_python3_kernel_runs_this_interpreter():
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")]
    )
    _execute(notebook, timeout=120)
    printed = notebook.cells[0].outputs[0]["text"].strip()
    assert Path(printed) == Path(sys.prefix), (
        f"The {_KERNEL!r} kernel runs another Python ({printed}); register this "
        f"one: {sys.executable} -m ipykernel install --sys-prefix --name {_KERNEL}"
    )


@pytest.mark.slow
def test_quickstart_notebook_runs_and_shows_the_comparison():
    path = NOTEBOOKS / "01_quickstart.ipynb"
    notebook = _execute(nbformat.read(path, as_version=4), timeout=600)
    text = _text_outputs(notebook)
    assert "split after epoch 3" in text
    assert "LowRankEmbedding" in text
    assert "| model | size (KB) |" in text  # the Markdown comparison
    for name in ("baseline.tflite", "compressed.tflite", "compressed_int8.tflite"):
        assert name in text
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 2  # the dev curves and the comparison plot


def test_notebooks_define_no_library_code():
    # Notebooks narrate and import from the package; functions they define must be
    # local glue (two-line helpers), never library code.
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            assert "class " not in cell.source, path.name
            assert "register_keras_serializable" not in cell.source, path.name
