"""The import rules of `docs/architecture.md`, read from the source (nothing runs)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tflite_lowrank"

# Folder (or top-level module) -> the parts of the package it may import.
ALLOWED = {
    "compression": {"compression", "utils"},
    "litert": {"litert", "utils"},
    "export": {"export", "compression", "litert", "utils", "errors"},
    "benchmark": {"benchmark", "litert", "utils", "errors"},
    "data": {"data", "utils"},
    "models": {"models", "compression", "data", "utils"},
    "utils": {"utils"},
    "errors": set(),
}
# Top-level re-export modules kept for earlier import paths: they import their own
# implementation module and nothing else of ours.
REEXPORTS = {
    "callbacks": {"compression"},
    "layers": {"compression"},
    "schedules": {"compression"},
    "factorize": {"compression"},
    "convert": {"export"},
    "fold": {"export"},
    "datasets": {"data"},
    "text": {"data"},
    "demo": {"apps"},
    "android": {"apps"},
    "cli": set(),
}


def _imported_parts(path: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = node.module.split(".")
            if names[0] == "tflite_lowrank":
                if len(names) > 1:
                    parts.add(names[1])
                else:
                    parts.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "tflite_lowrank" and len(names) > 1:
                    parts.add(names[1])
    return parts


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        part = relative.parts[0].removesuffix(".py")
        yield part, path


@pytest.mark.parametrize(
    ("part", "path"),
    list(_sources()),
    ids=lambda value: str(value.relative_to(ROOT)) if isinstance(value, Path) else "",
)
def test_module_imports_only_what_its_folder_may(part, path):
    imported = _imported_parts(path) - {"__version__", "version"}
    if part in ALLOWED:
        allowed = ALLOWED[part]
    elif part in REEXPORTS:
        allowed = REEXPORTS[part]
    else:  # apps, __init__, __main__, version: anything of ours
        return
    assert imported <= allowed, (
        f"{path.relative_to(ROOT)} imports {sorted(imported - allowed)}; "
        f"`{part}` may import only {sorted(allowed)} (docs/architecture.md)"
    )


def test_nothing_imports_the_apps():
    for part, path in _sources():
        if part in {"apps", "__init__", "__main__", "demo", "android"}:
            continue
        assert "apps" not in _imported_parts(path), path


def test_cli_package_imports_the_library_only_inside_functions():
    for path in sorted((ROOT / "tflite_lowrank_cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tflite_lowrank."), (
                    f"{path.name} imports {node.module} at module level"
                )
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] != "tflite_lowrank", path.name
