"""Named readouts and the structured residual layout (issue 12 item 3), exact numerical
decoding (issue 22 item 4) and model files of format 2 (format 1 still loads)."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.craft import BOS, ONE, BasisDirection, Embedding
from theory_kit.craft.assemble import ReadoutSpec, assemble
from theory_kit.craft.attention import (bos_key_logit, predicate_codes, select_head,
                                        with_bos_columns)
from theory_kit.errors import InvalidInput, InvalidModelFile
from theory_kit.library import PROGRAMS
from theory_kit.model import Model, load
from theory_kit.model.weights import Readout, ResidualLayout

DATA = Path(__file__).resolve().parents[1] / "data"
N = 4
VOCAB = ("a", "b")
IDX = [BasisDirection("i", p) for p in range(N)]
TOK = [BasisDirection("t", v) for v in VOCAB]
PREV = [BasisDirection("prev", v) for v in VOCAB]
IS_A = BasisDirection("is_a")
FRAC_A = BasisDirection("frac_a")
BOS_VALUES = {BOS: 1.0, ONE: 1.0}
#: every value count("a") / len can take, computed as plain Python computes it
FRACTIONS = tuple({c / n: c / n for n in range(1, N + 1) for c in range(n + 1)}.values())


def _inputs():
    for n in range(1, N + 1):
        yield from (list(s) for s in itertools.product(VOCAB, repeat=n))


def _two_readout_weights():
    """One layer, two heads: "prev" copies the previous token (categorical "output"), "frac"
    averages is_a over every position (numerical "frac_a")."""
    beta = 30.0
    q, k = predicate_codes(IDX, range(N), IDX, range(N), lambda k, q: k == q - 1, beta)
    prev = select_head("prev", with_bos_columns(
        q, k, beta=beta, bos_key_logit=bos_key_logit(1, beta, average=True),
        bos_values=BOS_VALUES), TOK, np.eye(2), PREV, default=[0.0, 0.0], bos_values=BOS_VALUES)
    q, k = predicate_codes(TOK, VOCAB, TOK, VOCAB, lambda k, q: True, beta)
    frac = select_head("frac", with_bos_columns(
        q, k, beta=beta, bos_key_logit=bos_key_logit(1, beta, average=True),
        bos_values=BOS_VALUES), (IS_A,), [[1.0]], (FRAC_A,), default=[0.0],
        bos_values=BOS_VALUES)
    emb = Embedding("emb", tokens={v: {d: 1.0, ONE: 1.0, **({IS_A: 1.0} if v == "a" else {})}
                                   for v, d in zip(VOCAB, TOK)},
                    positions={p + 1: {IDX[p]: 1.0} for p in range(N)}, bos={BOS: 1.0, ONE: 1.0})
    layout = {d: i for i, d in enumerate([BOS, ONE, *IDX, *TOK, IS_A, *PREV, FRAC_A])}
    return assemble([([prev, frac], [])], layout, emb, tokens=("BOS", *VOCAB), max_seq_len=N,
                    readout=PREV, readouts={"frac_a": ReadoutSpec((FRAC_A,), "numerical",
                                                                  FRACTIONS)})


@pytest.fixture(scope="module")
def two():
    return Model(_two_readout_weights(), vocab=VOCAB, max_seq_len=N, bos="BOS", constants={})


def _check_two(model):
    seqs = list(_inputs())
    want_prev = [[None] + s[:-1] for s in seqs]
    want_frac = [[s.count("a") / len(s)] * len(s) for s in seqs]
    for s, p, f in zip(seqs, want_prev, want_frac):
        assert model.run(s) == p, s
        assert model.run(s, readout="frac_a") == f, s  # exact: == with plain Python
    both = model.read(seqs)
    assert both == {"output": want_prev, "frac_a": want_frac}
    assert model.run_batch(seqs, readout="frac_a") == want_frac
    assert model.read(seqs, "frac_a") == {"frac_a": want_frac}
    assert all(type(v) is float for row in both["frac_a"] for v in row)


def test_a_hand_built_model_with_two_readouts_matches_python(two):
    assert list(two.readouts) == ["output", "frac_a"]
    assert two.weights.output_values == ("a", "b") and two.weights.output_encoding == "categorical"
    _check_two(two)
    # the dense forward pass decodes the same through `decode`
    seqs = list(_inputs())[:20]
    ids, mask = two.encode(seqs)
    trace = two.forward(ids, mask)
    lengths = [len(s) for s in seqs]
    assert two.decode(trace.output, lengths, readout="frac_a") == two.read(seqs)["frac_a"]
    assert trace.layout is two.layout and trace.residual_labels == two.residual_labels


def test_two_readouts_save_load_and_run(two, tmp_path):
    path = tmp_path / "two.npz"
    two.save(path)
    loaded = load(path)
    assert loaded.layout == two.layout
    assert loaded.readouts["frac_a"].reachable == two.readouts["frac_a"].reachable
    assert set(loaded.readouts["frac_a"].reachable) == set(FRACTIONS)
    with zipfile.ZipFile(path) as zf:
        assert "readout.frac_a.npy" in zf.namelist()
        meta = json.loads(zf.read("meta.json"))
    assert meta["format_version"] == 2 and set(meta["readouts"]) == {"frac_a"}
    _check_two(loaded)
    again = tmp_path / "again.npz"
    loaded.save(again)
    assert again.read_bytes() == path.read_bytes()  # deterministic, readouts and layout too


def test_an_unknown_readout_is_invalid_input_naming_it(two):
    with pytest.raises(InvalidInput, match="no readout named 'halt'.*'frac_a', 'output'"):
        two.run(["a"], readout="halt")
    with pytest.raises(InvalidInput, match="'halt'"):
        two.read([["a"]], ["output", "halt"])


# -- the layout ----------------------------------------------------------------------------------
def test_layout_lookup_by_direction_and_by_label(two):
    layout = two.layout
    assert layout.index(FRAC_A) == layout.width - 1
    assert layout.indices("prev").tolist() == [layout.index(d) for d in PREV]
    assert layout.directions("t") == tuple(TOK)
    assert ONE in layout and BasisDirection("one") not in layout  # internal namespace
    assert layout.labels == two.residual_labels == two.weights.residual_labels
    assert layout.labels[layout.index(BasisDirection("prev", "a"))] == "prev:'a'"
    with pytest.raises(InvalidInput, match="nowhere"):
        layout.index(BasisDirection("nowhere"))


def test_layout_refuses_repeated_directions_and_wrong_names():
    x, y = BasisDirection("x", 1), BasisDirection("x", True)
    assert ResidualLayout(((x,), (y,))).labels == ("x:1", "x:True")  # typed: two directions
    with pytest.raises(InvalidInput, match=r"repeated directions x:1 \(dimensions 0, 2\)"):
        ResidualLayout(((x,), (y,), (x,)))
    with pytest.raises(InvalidInput, match="dimension 0 named 'z' holds 'x:1'"):
        ResidualLayout(((x,), ()), ("z", "anything"))
    with pytest.raises(InvalidInput, match="non-directions 'x'"):
        ResidualLayout((("x",),))
    assert ResidualLayout.from_index({x: 1, y: 1}).dims == ((), (y, x))  # sort_key order
    assert ResidualLayout.from_labels(["a", "a"]).labels == ("a", "a")


def test_a_compiled_layout_is_the_compilers_layout():
    spec = PROGRAMS["sort"]
    c = tk.compile(spec.at(max_seq_len=4), vocab=spec.vocab, max_seq_len=4, verify=None)
    layout = c.layout
    assert all(layout.index(d) == i for d, i in c.layered.layout.items())
    assert layout.labels == tuple(" / ".join(map(str, s)) for s in c.layered.slots)
    out = c.assignment.nodes[c.graph.output]
    assert c.weights.unembed[layout.indices(out.label)].sum() == len(out.values)


# -- readouts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, needle", [
    (dict(name="1x", unembed=np.zeros((2, 1)), encoding="numerical"), "'1x'"),
    (dict(name="r", unembed=np.zeros((2, 1)), encoding="softmax"), "'softmax'"),
    (dict(name="r", unembed=np.zeros((2, 2)), encoding="categorical", values=(1,)),
     "1 values for 2 unembed columns"),
    (dict(name="r", unembed=np.zeros((2, 2)), encoding="categorical", values=(1, 1)),
     "values repeat 1"),
    (dict(name="r", unembed=np.zeros((2, 1)), encoding="categorical", values=(1,),
          reachable=(1,)), "reachable must be None"),
    (dict(name="r", unembed=np.zeros((2, 2)), encoding="numerical"), "1 unembed column, got 2"),
    (dict(name="r", unembed=np.zeros((2, 1)), encoding="numerical", reachable=(0.5, "x")),
     "'x'"),
    (dict(name="r", unembed=np.zeros((2, 1)), encoding="numerical", reachable=(0.5, 0.5)),
     "repeat"),
    (dict(name="r", unembed=np.full((2, 1), np.nan), encoding="numerical"), "non-finite"),
])
def test_a_malformed_readout_is_refused_naming_the_value(kwargs, needle):
    with pytest.raises(InvalidInput, match="Readout") as info:
        Readout(**kwargs)
    assert needle in str(info.value)


def test_numerical_decoding_snaps_within_the_tolerance_only():
    r = Readout("r", np.ones((1, 1)), "numerical", reachable=(0, 1, 0.0))
    assert r.tolerance == 0.25
    got = r.decode(np.array([[0.1], [0.2], [0.9], [0.5], [-0.3]])).tolist()
    assert got == [0.0, 0.0, 1, 0.5, -0.3]
    assert type(got[0]) is float and type(got[2]) is int  # 0 and 0.0 share a number
    assert Readout("r", np.ones((1, 1)), "numerical").decode(np.array([[0.1]])).tolist() == [0.1]
    # float sums in two orders are one number to the weights: one cluster, one tolerance
    near = Readout("r", np.ones((1, 1)), "numerical", reachable=(0.3, 0.7 - 0.4, 1.0))
    assert near.tolerance == pytest.approx(0.7 / 4)
    assert near.decode(np.array([[0.31]])).tolist()[0] in (0.3, 0.7 - 0.4)


@pytest.mark.parametrize("name, max_seq_len", [("mean", 4), ("frac_prevs", 5), ("sum", 4)])
def test_numerical_library_outputs_equal_the_interpreter_exactly(name, max_seq_len):
    """Issue 22 item 4: run == rasp.evaluate, value and type, on every input (before, a mean
    decoded to 3.333333333333 where the interpreter gives 3.3333333333333335)."""
    spec = PROGRAMS[name]
    program = spec.at(max_seq_len=max_seq_len) if "max_seq_len" in spec.settings else spec()
    model = tk.compile(program, vocab=spec.vocab, max_seq_len=max_seq_len, verify=None)
    assert model.weights.output_encoding == "numerical"
    assert model.output_value_set is not None
    seqs = [list(s) for n in range(1, max_seq_len + 1)
            for s in itertools.product(sorted(spec.vocab), repeat=n)]
    got = model.run_batch(seqs)
    for seq, row in zip(seqs, got):
        want = rasp.evaluate(program, seq)
        assert row == want, (seq, row, want)
        assert [type(v) for v in row] == [type(v) for v in want], (seq, row, want)


def test_decoding_is_exact_where_rounding_showed():
    model = tk.compile(PROGRAMS["mean"](), vocab={0, 1, 2, 3}, max_seq_len=3, verify=None)
    assert model.run([3, 3, 4 - 3]) == [7 / 3] * 3 == rasp.evaluate(PROGRAMS["mean"](), [3, 3, 1])


# -- model files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["frac_prevs", "reverse"])
def test_files_of_format_1_still_load_and_run(name):
    """tests/data/model_format1_*.npz were written by the format-1 writer (before readouts):
    they load with a names-only layout and their one readout."""
    path = DATA / f"model_format1_{name}.npz"
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    assert meta["format_version"] == 1 and "readouts" not in meta
    model = load(path)
    assert model.residual_labels == tuple(meta["residual_labels"])
    assert all(dim == () for dim in model.layout.dims) and list(model.readouts) == ["output"]
    spec = PROGRAMS[name]
    program = spec.at(max_seq_len=3)
    for n in range(1, 4):
        for seq in itertools.product(sorted(spec.vocab), repeat=n):
            want, got = rasp.evaluate(program, list(seq)), model.run(list(seq))
            if name == "reverse":
                assert got == want
            else:  # format 1 kept only the rounded value set
                assert got == pytest.approx(want, abs=1e-11)


def edited_model_file(src: Path, dst: Path, edit) -> Path:
    """A copy of the model file `src` at `dst` whose meta.json was changed by `edit` (shared
    by the model-file tests)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "meta.json":
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            zout.writestr(item, data)
    return dst


def _direction(label, value, internal=False):
    return {"label": label, "value": value, "internal": internal}


BAD_FILES = {
    "layout_repeats_a_direction": (
        lambda m: m["residual_layout"].__setitem__(1, m["residual_layout"][0]),
        ["field 'residual_layout'", "repeated directions bos"]),
    "layout_disagrees_with_labels": (
        lambda m: m["residual_labels"].__setitem__(0, "zero"),
        ["field 'residual_layout'", "dimension 0 named 'zero' holds 'bos'"]),
    "layout_too_short": (lambda m: m["residual_layout"].pop(),
                         ["field 'residual_layout' has", "field 'residual_labels' has"]),
    "layout_malformed_direction": (
        lambda m: m["residual_layout"].__setitem__(0, [_direction(7, {"none": None})]),
        ["malformed direction", "'label': 7", "dimension 0"]),
    "layout_bad_value": (
        lambda m: m["residual_layout"].__setitem__(0, [_direction("bos", {"int": 1.5})]),
        ["malformed direction", "1.5"]),
    "layout_not_a_list": (lambda m: m.__setitem__("residual_layout", "bos"),
                          ["field 'residual_layout' must be a list"]),
    "readout_named_output": (
        lambda m: m["readouts"].__setitem__("output", m["readouts"].pop("frac_a")),
        ["field 'readouts' has the name 'output'"]),
    "readout_bad_name": (
        lambda m: m["readouts"].__setitem__("a.b", m["readouts"].pop("frac_a")),
        ["'a.b'", "identifiers"]),
    "readout_bad_encoding": (
        lambda m: m["readouts"]["frac_a"].__setitem__("encoding", "softmax"),
        ["field 'readouts.frac_a.encoding'", "'softmax'"]),
    "readout_values_on_numerical": (
        lambda m: m["readouts"]["frac_a"].__setitem__("values", [{"int": 1}]),
        ["field 'readouts.frac_a.values' must be empty"]),
    "readout_value_set_strings": (
        lambda m: m["readouts"]["frac_a"]["value_set"].__setitem__(0, {"str": "x"}),
        ["field 'readouts.frac_a.value_set' must hold numbers", "'x'"]),
    "readout_value_set_repeats": (
        lambda m: m["readouts"]["frac_a"]["value_set"].__setitem__(
            1, m["readouts"]["frac_a"]["value_set"][0]),
        ["field 'readouts.frac_a.value_set' repeats"]),
    "readout_categorical_columns": (
        lambda m: m["readouts"]["frac_a"].update(encoding="categorical", value_set=None,
                                                 values=[{"int": 1}, {"int": 2}]),
        ["field 'readouts.frac_a.values' lists 2 values", "'readout.frac_a' has 1 columns"]),
    "readout_missing_keys": (lambda m: m["readouts"]["frac_a"].pop("value_set"),
                             ["field 'readouts.frac_a' must be an object"]),
    "readouts_not_an_object": (lambda m: m.__setitem__("readouts", []),
                               ["field 'readouts' must be a JSON object"]),
    "readout_without_its_array": (
        lambda m: m["readouts"].__setitem__("halt", dict(m["readouts"]["frac_a"])),
        ["missing member(s) 'readout.halt.npy'"]),
    "readouts_missing_in_format_2": (lambda m: m.pop("readouts"), ["field 'readouts' is missing"]),
    "readouts_in_format_1": (lambda m: m.update(format_version=1),
                             ["unknown field(s) ['readouts', 'residual_layout']"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_layout_or_readout_in_a_file_is_refused_naming_it(case, two, tmp_path):
    assert_edited_file_refused(two, tmp_path, *BAD_FILES[case])


def assert_edited_file_refused(model, tmp_path: Path, edit, needles) -> None:
    """Saving `model`, editing its meta.json with `edit` and loading it raises
    InvalidModelFile naming every one of `needles`."""
    model.save(tmp_path / "good.npz")
    path = edited_model_file(tmp_path / "good.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(InvalidModelFile) as info:
        load(path)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_a_dimension_whose_value_cannot_be_stored_keeps_its_name(tmp_path):
    """Direction values the file format cannot hold (a frozenset) leave that dimension known by
    its name only; the model still saves, loads and runs."""
    odd = BasisDirection("s", frozenset({1}))
    layout = ResidualLayout(((BOS,), (ONE,), (odd,), *((d,) for d in TOK)))
    weights = assemble([], layout, Embedding("e", tokens={v: {d: 1.0} for v, d in
                                                             zip(VOCAB, TOK)},
                                              bos={BOS: 1.0, ONE: 1.0}),
                       tokens=("BOS", *VOCAB), max_seq_len=2, readout=TOK)
    model = Model(weights, vocab=VOCAB, max_seq_len=2, bos="BOS", constants={})
    model.save(tmp_path / "odd.npz")
    loaded = load(tmp_path / "odd.npz")
    assert loaded.layout.dims[2] == () and loaded.residual_labels == model.residual_labels
    assert loaded.layout.dims[3] == (TOK[0],)
    assert loaded.run(["b", "a"]) == model.run(["b", "a"]) == ["b", "a"]
