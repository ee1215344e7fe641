"""`theory-kit compile`: compiles, verifies, reports sizes; bad names exit 2."""

import json

from theory_kit import load
from theory_kit.cli import main


def test_compile_reports_verified_sizes(capsys, tmp_path):
    path = tmp_path / "hist.npz"
    assert main(["compile", "hist", "--json", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[: out.rindex("}") + 1])
    assert report["verified_inputs"] == 3 + 9 + 27 + 81 + 243
    assert report["residual_width"] == len(load(path).residual_labels)
    assert load(path).run(["a", "b", "a"]) == [2, 1, 2]


def test_compile_unknown_program_exits_2(capsys):
    assert main(["compile", "histogram"]) == 2
    assert "unknown program 'histogram'" in capsys.readouterr().err
