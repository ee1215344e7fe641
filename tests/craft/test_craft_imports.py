"""craft is RASP-free: its modules import only craft.*, theory_kit.values, theory_kit.errors,
numpy and the standard library (imports inside functions included)."""

import ast
import sys
from pathlib import Path

import theory_kit.craft

CRAFT = Path(theory_kit.craft.__file__).parent
# craft and the runtime share a layer: the assembler builds the runtime's Weights
ALLOWED_THEORY_KIT = ("theory_kit.craft", "theory_kit.values", "theory_kit.errors",
                      "theory_kit.model.weights")
ALLOWED_THIRD_PARTY = {"numpy"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside craft by construction
                names.append("theory_kit.craft")
            else:
                names.append(node.module)
    return names


def _bad(names: list[str]) -> list[str]:
    bad = []
    for name in names:
        top = name.split(".")[0]
        if top == "theory_kit":
            if not any(name == a or name.startswith(a + ".") for a in ALLOWED_THEORY_KIT):
                bad.append(name)
        elif top not in ALLOWED_THIRD_PARTY and top not in sys.stdlib_module_names:
            bad.append(name)
    return bad


def test_craft_imports_nothing_from_compiler_or_rasp():
    files = sorted(CRAFT.glob("*.py"))
    assert {"mlp.py", "attention.py", "bases.py", "blocks.py"} <= {f.name for f in files}
    assert not (CRAFT / "lowering.py").exists()  # the lowering table lives in the compiler
    problems = {f.name: _bad(_imports(f)) for f in files}
    assert not any(problems.values()), problems


def test_the_check_catches_a_planted_upward_import(tmp_path):
    planted = tmp_path / "x.py"
    planted.write_text("def f():\n    from theory_kit.compiler.ir import NodeBasis\n"
                       "    import theory_kit.rasp.nodes\n    import sympy\n")
    assert _bad(_imports(planted)) == ["theory_kit.compiler.ir", "theory_kit.rasp.nodes", "sympy"]
