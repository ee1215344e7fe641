"""Layers only import downward (issue 12): an AST walk over every module of theory_kit,
imports inside functions included, fails on any import of a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "theory_kit"

#: lowest first; a module may import its own layer and those below it.
LAYERS = [
    {"errors", "values", "paths", "tex", "progress", "generation"},
    {"rasp", "bounds", "plotting"},
    {"craft", "model"},
    {"compiler"},
    {"library", "claims", "landscape", "constructions", "export", "runtime", "learning",
     "sweep", "paper"},
    {"testing", "cli", "compat", "__init__", "__main__"},
]
#: (importer, imported) pairs allowed against the order, each with its reason.
ALLOWED = {
    # Tracr's `program(xs)` evaluates through the interpreter (rasp/nodes.py -> interpreter)
    ("rasp.nodes", "rasp.interpreter"),
}


def _layer(package: str) -> int:
    for i, names in enumerate(LAYERS):
        if package in names:
            return i
    raise AssertionError(f"theory_kit.{package} is in no layer of tests/test_layers.py")


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"] or ["__init__"]
    return ".".join(parts)


def _imports(path: Path, module: str):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("theory_kit."):
                    yield alias.name[len("theory_kit."):], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package_parts[:len(package_parts) - node.level + (path.name == "__init__.py")]
                target = ".".join(base + ([node.module] if node.module else []))
                yield target, node.lineno
            elif node.module and node.module.startswith("theory_kit."):
                yield node.module[len("theory_kit."):], node.lineno
            elif node.module == "theory_kit":
                for alias in node.names:  # a subpackage, or a name of the facade
                    is_pkg = any(alias.name in names for names in LAYERS)
                    yield (alias.name if is_pkg else "__init__"), node.lineno


def upward_imports(root: Path = ROOT) -> list[str]:
    """Every import of a higher layer, as 'file:line: a -> b'."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        mine = _layer(module.split(".")[0])
        for target, line in _imports(path, module):
            top = target.split(".")[0]
            if not top or top == module.split(".")[0]:
                continue
            if _layer(top) > mine and (module, target) not in ALLOWED:
                bad.append(f"{path.relative_to(root.parent)}:{line}: {module} -> {target}")
    return bad


def test_every_package_is_in_a_layer():
    for path in ROOT.iterdir():
        if path.name.startswith("_") and path.name not in ("__init__.py", "__main__.py"):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            _layer(path.stem if path.suffix == ".py" else path.name)


def test_layers_only_import_downward():
    bad = upward_imports()
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_a_planted_upward_import_is_caught(tmp_path):
    pkg = tmp_path / "theory_kit"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "model" / "x.py").write_text("def f():\n    from theory_kit.compiler import compile\n")
    assert upward_imports(pkg) == ["theory_kit/model/x.py:2: model.x -> compiler"]
