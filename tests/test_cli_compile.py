"""`theory-kit compile`: compiles, verifies, reports sizes; bad names exit 2."""

import json
import random

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


def test_compile_json_with_save_prints_only_json_on_stdout(capsys, tmp_path):
    """Issue 22 item 2: with --json --save, stdout is exactly one JSON document; the 'saved to'
    line is a diagnostic on stderr."""
    path = tmp_path / "length.npz"
    assert main(["compile", "length", "--no-verify", "--json", "--save", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["program"] == "length"
    assert err == f"saved to {path}\n"


def test_compile_builds_the_library_program_at_the_requested_length(capsys, tmp_path):
    """Issue 22 item 1: sort_freq's construction depends on max_seq_len; compiling it for
    length 7 must compile make_sort_freq(7), not make_sort_freq(5) at length 7."""
    path = tmp_path / "sort_freq.npz"
    assert main(["compile", "sort_freq", "--max-seq-len", "7", "--no-verify",
                 "--save", str(path)]) == 0
    capsys.readouterr()
    model = load(path)
    rng = random.Random(0)
    for _ in range(60):
        xs = [rng.choice("abc") for _ in range(rng.randint(6, 7))]
        assert model.run(xs) == sorted(xs, key=lambda x: -xs.count(x)), xs


def test_compile_at_a_longer_length_reports_that_length(capsys):
    assert main(["compile", "hist", "--max-seq-len", "6", "--no-verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_seq_len"] == 6


def test_compile_with_another_vocab(capsys, tmp_path):
    path = tmp_path / "count.npz"
    assert main(["compile", "count", "--vocab", "x", "y", "--max-seq-len", "3", "--json",
                 "--out", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["vocab"], report["verified_inputs"]) == (["x", "y"], 2 + 4 + 8)
    assert load(path).run(["y", "x", "x"]) == [2, 2, 2]  # counts vocab[0]
