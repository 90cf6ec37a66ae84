"""The rules of `docs/architecture.md`, read from the source (nothing runs).

- Each part of the package imports only the parts its row of the table allows, and
  the parts import each other without a loop.
- Every use of a Keras internal is in `tflite_lowrank/_keras/`: elsewhere no
  `something._private` attribute (other than `self`/`cls`), no `keras.src` import,
  no assignment to `__class__` and no `object.__setattr__`.
- `factorization/` is NumPy only: no Keras, no TensorFlow.
- No module over 400 lines, no folder over 12 modules, no module that only
  re-exports (a shim) outside the `__init__.py` faces; the package never imports the
  command line (`tflite_lowrank_cli`).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tflite_lowrank"
CLI = ROOT / "tflite_lowrank_cli"

# Folder (or top-level module) -> the parts of the package it may import.
ALLOWED = {
    "_keras": {"_keras", "utils"},
    "factorization": {"factorization", "utils"},
    "layers": {"layers", "factorization", "_keras", "utils"},
    "training": {"training", "factorization", "layers", "_keras", "utils", "errors"},
    "litert": {"litert", "utils"},
    "export": {
        "export",
        "layers",
        "factorization",
        "_keras",
        "litert",
        "utils",
        "errors",
    },
    "benchmark": {"benchmark", "litert", "utils", "errors"},
    "data": {"data", "utils"},
    "models": {"models", "layers", "data", "utils"},
    "utils": {"utils"},
    "errors": set(),
    "version": set(),
}
# Anything of ours: the orchestration and the package's face.
UNRESTRICTED = {"apps", "__init__"}
MAX_MODULE_LINES = 400
MAX_FOLDER_MODULES = 12
NUMPY_ONLY = {"factorization"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def _imported_parts(path: Path) -> set[str]:
    parts = set()
    for module in _imported_modules(path):
        names = module.split(".")
        if names[0] == "tflite_lowrank" and len(names) > 1:
            parts.add(names[1])
    return parts - {"__version__"}


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _id(value):
    return str(value.relative_to(ROOT)) if isinstance(value, Path) else str(value)


@pytest.mark.parametrize("path", _sources(), ids=_id)
def test_module_imports_only_what_its_folder_may(path):
    part = _part(path)
    if part in UNRESTRICTED:
        return
    assert part in ALLOWED, f"{_id(path)}: part {part!r} has no row in ALLOWED"
    imported = _imported_parts(path)
    assert imported <= ALLOWED[part], (
        f"{_id(path)} imports {sorted(imported - ALLOWED[part])}; "
        f"`{part}` may import only {sorted(ALLOWED[part])} (docs/architecture.md)"
    )


def test_parts_import_each_other_without_a_loop():
    graph: dict[str, set[str]] = {}
    for path in _sources():
        part = _part(path)
        graph.setdefault(part, set()).update(_imported_parts(path) - {part})
    graph.pop("__init__", None)
    for edges in graph.values():
        edges.discard("__init__")
    visiting, done = [], set()

    def visit(part):
        if part in done:
            return
        assert part not in visiting, f"import loop: {' -> '.join(visiting + [part])}"
        visiting.append(part)
        for other in sorted(graph.get(part, ())):
            visit(other)
        visiting.pop()
        done.add(part)

    for part in sorted(graph):
        visit(part)


def test_nothing_imports_the_apps():
    for path in _sources():
        if _part(path) in UNRESTRICTED:
            continue
        assert "apps" not in _imported_parts(path), _id(path)


@pytest.mark.parametrize("path", _sources(), ids=_id)
def test_the_package_never_imports_the_command_line(path):
    imported = {module.split(".")[0] for module in _imported_modules(path)}
    assert "tflite_lowrank_cli" not in imported, _id(path)


def test_cli_package_imports_the_library_only_inside_functions():
    for path in sorted(CLI.glob("*.py")):
        for node in _tree(path).body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tflite_lowrank."), (
                    f"{path.name} imports {node.module} at module level"
                )
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] != "tflite_lowrank", path.name


def _keras_internal_uses(path: Path) -> list[str]:
    """`line: what` for every use of a Keras internal in `path` (see the docstring)."""
    found = []
    tree = _tree(path)
    parents = {
        child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            private = name.startswith("_") and not (
                name.startswith("__") and name.endswith("__")
            )
            owner = node.value
            is_self = isinstance(owner, ast.Name) and owner.id in {"self", "cls"}
            if private and not is_self:
                found.append(f"{node.lineno}: .{name}")
            if name == "__class__" and isinstance(node.ctx, ast.Store):
                found.append(f"{node.lineno}: __class__ assignment")
            if (
                name == "__setattr__"
                and isinstance(owner, ast.Name)
                and owner.id == "object"
                and not _on_self(node, parents)
            ):
                found.append(f"{node.lineno}: object.__setattr__")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
            )
            for module in modules:
                if module == "keras.src" or module.startswith("keras.src."):
                    found.append(f"{node.lineno}: import {module}")
    return sorted(found, key=lambda use: int(use.split(":")[0]))


def _on_self(attribute: ast.Attribute, parents: dict) -> bool:
    """`object.__setattr__(self, ...)`: a frozen dataclass setting its own field."""
    call = parents.get(attribute)
    return (
        isinstance(call, ast.Call)
        and call.func is attribute
        and bool(call.args)
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == "self"
    )


@pytest.mark.parametrize(
    "path", [p for p in _sources() if _part(p) != "_keras"], ids=_id
)
def test_keras_internals_are_used_only_in_the_private_keras_package(path):
    uses = _keras_internal_uses(path)
    assert not uses, (
        f"{_id(path)} touches Keras internals outside tflite_lowrank/_keras/: "
        f"{uses}; add a function to _keras/adapter.py or _keras/graph.py instead"
    )


def test_the_internals_check_sees_what_it_forbids(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text(
        "import keras.src.saving\n"
        "layer._tracker.unlock()\n"
        "layer.__class__ = Other\n"
        "object.__setattr__(layer, 'x', 1)\n"
        "self._ok = type(layer).__name__\n"
        "object.__setattr__(self, 'frozen_field', 1)\n"
    )
    uses = _keras_internal_uses(source)
    assert uses == [
        "1: import keras.src.saving",
        "2: ._tracker",
        "3: __class__ assignment",
        "4: object.__setattr__",
    ]


@pytest.mark.parametrize(
    "path", [p for p in _sources() if _part(p) in NUMPY_ONLY], ids=_id
)
def test_numpy_only_parts_import_no_keras_or_tensorflow(path):
    roots = {module.split(".")[0] for module in _imported_modules(path)}
    assert not roots & {"keras", "tensorflow", "tf_keras"}, _id(path)


@pytest.mark.parametrize("path", [*_sources(), *sorted(CLI.glob("*.py"))], ids=_id)
def test_no_module_is_longer_than_the_limit(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{_id(path)} has {lines} lines: a module past {MAX_MODULE_LINES} lines "
        "holds two concepts; split it"
    )


def test_no_folder_holds_more_modules_than_the_limit():
    folders = {PACKAGE, CLI, *(p.parent for p in PACKAGE.rglob("*.py"))}
    for folder in folders:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_FOLDER_MODULES, (
            f"{_id(folder)} holds {len(modules)} modules: more than one concept"
        )


@pytest.mark.parametrize(
    "path", [p for p in _sources() if p.name != "__init__.py"], ids=_id
)
def test_no_module_only_re_exports(path):
    body = [
        node
        for node in _tree(path).body
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.Expr)
        and not (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        )
    ]
    assert body, f"{_id(path)} only re-exports: import from the real module"


def test_every_sub_package_has_a_face():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = _tree(init)
        assert ast.get_docstring(tree), f"{_id(init)} has no docstring"
        if init.parent.name.startswith("_"):
            continue
        names = [
            node
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ]
        assert names, f"{_id(init)} has no curated `__all__`"
