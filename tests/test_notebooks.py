"""The notebooks run top to bottom in a fresh kernel of this interpreter (nbclient).

The kernel is the `python3` kernelspec. Its `argv[0]` is `python`, which
`jupyter_client` replaces by the interpreter running the tests, so the notebooks see
this venv and its `tflite_lowrank`; `test_python3_kernel_runs_this_interpreter` checks
that (a user-level `python3` kernelspec pointing elsewhere would break it).

The notebooks are committed executed, so that a reader sees the tables and plots. The
integration tests execute them again and check that the committed outputs still have the
shape of a fresh run (`_shape`: the outputs of each code cell, by type, and the header
lines of the tables they show), not the same numbers. When they differ, re-execute
the notebook with `.venv/bin/python .ci/execute_notebooks.py` and commit it.
"""

import base64
import copy
import re
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
_KERNEL = "python3"
_MAX_IMAGE_BYTES = 200_000  # per committed PNG; the repository stays small
_REEXECUTE = ".venv/bin/python .ci/execute_notebooks.py"


def _execute(notebook, *, timeout: int):
    # As `.ci/execute_notebooks.py` executes them for the commit.
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=_KERNEL,
        timeout=timeout,
        record_timing=False,
        coalesce_streams=True,
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


def _markdown_table_headers(text: str) -> list[str]:
    """The header line of each Markdown table in `text` (the line above `|---`)."""
    lines = text.splitlines()
    return [
        above.strip()
        for above, line in zip(lines, lines[1:], strict=False)
        if re.match(r"\s*\|\s*:?-{3,}", line)
    ]


def _html_table_headers(html: str) -> list[str]:
    """The column labels of each HTML table in `html` (a pandas `DataFrame`)."""
    headers = []
    for head in re.findall(r"<thead>(.*?)</thead>", html, flags=re.S):
        cells = re.findall(r"<th[^>]*>(.*?)</th>", head, flags=re.S)
        headers.append(" | ".join(cell.strip() for cell in cells))
    return headers


def _shape(notebook) -> list[dict]:
    """Per code cell: its outputs by type and the header lines of its tables.

    Numbers, timings and paths are left out; so is stderr, whose warnings depend on
    the machine. Stream pieces are merged per stream (`coalesce_streams=True`).
    """
    shapes = []
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for index, cell in enumerate(code_cells):
        outputs, headers = [], []
        for output in cell.get("outputs", []):
            kind = output["output_type"]
            if kind == "stream":
                if output["name"] == "stderr":
                    continue
                outputs.append(f"stream:{output['name']}")
                headers += _markdown_table_headers(output["text"])
            elif kind in ("display_data", "execute_result"):
                data = output["data"]
                outputs.append(f"{kind}:{','.join(sorted(data))}")
                headers += _markdown_table_headers(data.get("text/markdown", ""))
                headers += _html_table_headers(data.get("text/html", ""))
            else:
                outputs.append(kind)  # "error"
        shapes.append({"code cell": index, "outputs": outputs, "tables": headers})
    return shapes


def _execute_and_check_committed_shape(name: str, *, timeout: int):
    """Executes notebooks/`name`; checks its committed outputs have the fresh shape."""
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook = _execute(copy.deepcopy(committed), timeout=timeout)
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert not errors, errors[0]["ename"] + ": " + errors[0]["evalue"]
    assert _shape(committed) == _shape(notebook), (
        f"The committed outputs of notebooks/{name} are not those of a fresh run "
        f"(left: committed, right: fresh): re-execute it with `{_REEXECUTE} "
        f"notebooks/{name}` and commit it."
    )
    return notebook


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


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name
)
def test_notebook_is_committed_executed_with_small_images(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name} is not committed executed top to bottom (execution counts "
        f"{counts}): run `{_REEXECUTE} notebooks/{path.name}` and commit it."
    )
    assert any(cell.get("outputs") for cell in code_cells)
    for cell in code_cells:
        assert "execution" not in cell.metadata, "volatile timestamps committed"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", path.name
            png = output.get("data", {}).get("image/png")
            if png is not None:
                assert len(base64.b64decode(png)) <= _MAX_IMAGE_BYTES, path.name


def test_shape_ignores_numbers_and_stderr_but_not_tables_or_images():
    def notebook(outputs):
        cell = nbformat.v4.new_code_cell("...")
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
        return nbformat.v4.new_notebook(cells=[cell])

    def table(header, value):
        markdown = f"{header}\n|---|---:|\n| a | {value} |"
        return {
            "output_type": "display_data",
            "metadata": {},
            "data": {"text/markdown": markdown, "text/plain": "<Markdown>"},
        }

    def stream(name, text):
        return {"output_type": "stream", "name": name, "text": text}

    image = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
    }
    committed = _shape(
        notebook([stream("stdout", "took 3.1 s"), table("| m | x |", 1)])
    )
    assert committed == [
        {
            "code cell": 0,
            "outputs": ["stream:stdout", "display_data:text/markdown,text/plain"],
            "tables": ["| m | x |"],
        }
    ]
    # Other numbers and a warning on stderr: the same shape.
    fresh = [
        stream("stdout", "took 4.7 s"),
        stream("stderr", "W0000"),
        table("| m | x |", 2),
    ]
    assert _shape(notebook(fresh)) == committed
    renamed = [stream("stdout", "took 3.1 s"), table("| m | y |", 1)]
    assert _shape(notebook(renamed)) != committed
    plus_image = [stream("stdout", "took 3.1 s"), table("| m | x |", 1), image]
    assert _shape(notebook(plus_image)) != committed


@pytest.mark.integration
def test_quickstart_notebook_runs_and_shows_the_comparison():
    notebook = _execute_and_check_committed_shape("01_quickstart.ipynb", timeout=600)
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


@pytest.mark.integration
def test_reproduce_notebook_runs_and_shows_the_committed_results():
    notebook = _execute_and_check_committed_shape(
        "02_reproduce_paper.ipynb", timeout=300
    )
    text = _text_outputs(notebook)
    assert "grid runs" in text
    assert "No grid results committed yet." not in text  # benchmarks/results/ is read


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
