"""Export (issue 17): torch and TransformerLens models equal the numpy forward, their
`run_with_cache` activations equal the numpy trace at every hook point, safetensors round
trips, and the ground-truth circuit is right (hand-written expectations; ablating a used
component changes an output, ablating all padding changes none)."""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, note, settings

import theory_kit as tk
from theory_kit import export, rasp
from theory_kit import library as lib
from theory_kit.compiler.verify import verification_inputs
from theory_kit.library import COT_PROGRAMS, LOOPED_PROGRAMS, PROGRAMS
from theory_kit.library.cot import STOP
from theory_kit.model.forward import forward
from theory_kit.testing import format_program
from theory_kit.errors import InvalidModelFile

from tests.testing.test_differential import cases

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::FutureWarning", "ignore::UserWarning")

#: Activations checked through run_with_cache: this many inputs of each length.
CACHE_INPUTS = 64


def _torch():
    import torch
    return torch


def _by_length(inputs):
    groups = defaultdict(list)
    for x in inputs:
        groups[len(x)].append(x)
    return [groups[n] for n in sorted(groups)]


def _numpy_trace(model, seqs, unrolled=False):
    ids, mask = model.encode(seqs)
    loop = model.weights.loop
    iterations = loop.max_iterations if (unrolled and loop is not None) else None
    return ids, mask, forward(model.weights, ids, mask, iterations=iterations)


def _maxabs(a):
    return float(np.abs(a).max()) if a.size else 0.0


def _tol(model):
    return 1e-9 if model.dtype == np.float64 else None


def check_round_trip(model, inputs, *, cache_inputs=CACHE_INPUTS):
    """torch and TransformerLens against the numpy forward on `inputs` (grouped by length, so
    TransformerLens runs unpadded): residual / logits within 1e-9 in float64, decoded outputs
    identical in both dtypes, every hook point of run_with_cache (on the first `cache_inputs`
    of each length) equal to the numpy trace."""
    torch = _torch()
    tm = export.to_torch(model)
    hooked = export.to_transformer_lens(model)
    w = model.weights
    out = w.readouts["output"]
    expected_all = model.run_batch(inputs)
    got_torch, got_tl = {}, {}
    for group in _by_length(inputs):
        n = len(group[0])
        ids, mask, trace = _numpy_trace(model, group)
        with torch.no_grad():
            x = tm(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        if _tol(model):
            assert _maxabs(x - trace.output) <= _tol(model)
        for seq, row in zip(group, out.decode(x @ out.unembed, axis=-1)):
            got_torch[tuple(seq)] = row[1:n + 1].tolist()
        # TransformerLens: a looped model is unrolled (max_iterations passes)
        _, _, unrolled = _numpy_trace(model, group, unrolled=True)
        with torch.no_grad():
            logits = hooked(torch.from_numpy(ids)).numpy()
        if _tol(model):
            assert _maxabs(logits - unrolled.output @ out.unembed) <= _tol(model)
        for seq, row in zip(group, out.decode(logits, axis=-1)):
            got_tl[tuple(seq)] = row[1:n + 1].tolist()
        _check_cache(model, hooked, ids[:cache_inputs], unrolled, torch)
    for seq, e in zip(inputs, expected_all):
        assert got_torch[tuple(seq)] == e, (seq, got_torch[tuple(seq)], e)
        assert got_tl[tuple(seq)] == e, (seq, got_tl[tuple(seq)], e)


def _check_cache(model, hooked, ids, unrolled, torch):
    b = len(ids)
    with torch.no_grad():
        _, cache = hooked.run_with_cache(torch.from_numpy(ids))
    res = [r[:b] for r in unrolled.residuals]
    layers = [model.weights.layers[i] for i in export.layer_schedule(model.weights)]
    tol = _tol(model) or 1e-4 * max(1.0, max(_maxabs(r) for r in res))

    def close(name, want):
        got = cache[name].numpy()
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert _maxabs(got - want) <= tol, (name, _maxabs(got - want))

    close("hook_embed", model.weights.token_embed[ids])
    close("hook_pos_embed", np.broadcast_to(model.weights.pos_embed[:ids.shape[1]],
                                            res[0].shape))
    for l, lw in enumerate(layers):
        close(f"blocks.{l}.hook_resid_pre", res[2 * l])
        close(f"blocks.{l}.hook_resid_mid", res[2 * l + 1])
        close(f"blocks.{l}.hook_resid_post", res[2 * l + 2])
        h, m = lw.n_heads, lw.mlp_hidden
        if h:
            close_pattern = cache[f"blocks.{l}.attn.hook_pattern"].numpy()[:, :h]
            assert _maxabs(close_pattern - unrolled.attention[l][:b]) <= max(tol, 1e-12)
            result = cache[f"blocks.{l}.attn.hook_result"].numpy()[:, :, :h]
            assert _maxabs(result.sum(axis=2) - (res[2 * l + 1] - res[2 * l])) <= tol
        hidden = np.maximum(res[2 * l + 1] @ lw.W_in + lw.b_in, 0)
        close_post = cache[f"blocks.{l}.mlp.hook_post"].numpy()
        assert _maxabs(close_post[..., :m] - hidden) <= tol
        assert not close_post[..., m:].any()  # padding units stay at zero


LIBRARY = [(name, causal, dtype) for name, spec in sorted(PROGRAMS.items())
           for causal in ((False, True) if spec.causal_safe else (False,))
           for dtype in (np.float64, np.float32)]


def _compiled(name, causal, dtype):
    spec = PROGRAMS[name]
    return tk.compile(spec(), vocab=set(spec.vocab), max_seq_len=spec.max_seq_len,
                      causal=causal, dtype=dtype, verify=None)


@pytest.mark.parametrize("name,causal,dtype", LIBRARY, ids=[
    f"{n}-{'causal' if c else 'full'}-{np.dtype(d)}" for n, c, d in LIBRARY])
def test_library_round_trip(name, causal, dtype):
    model = _compiled(name, causal, dtype)
    check_round_trip(model, list(verification_inputs(model.config)))


def _looped(name, dtype, n=4):
    spec = LOOPED_PROGRAMS[name]
    vocab = set(range(n)) if name == "hops_loop" else set(spec.vocab)
    return tk.compile(spec.at(max_seq_len=n), vocab=vocab, max_seq_len=n, dtype=dtype,
                      verify=None)


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_looped_round_trip(name, dtype):
    model = _looped(name, dtype)
    check_round_trip(model, list(verification_inputs(model.config)), cache_inputs=16)


@pytest.mark.parametrize("name", sorted(COT_PROGRAMS))
def test_chain_of_thought_generators_round_trip(name):
    """A compiled CoT generator (causal): every prefix of its generations on every prompt of
    size 1 (a seeded sample of 30 for larger prompt sets)."""
    model, inputs = _cot(name)
    check_round_trip(model, inputs, cache_inputs=16)


def _cot(name, size=1):
    """The compiled generator of size `size` and every prefix of its generations on every prompt
    (a seeded sample of 30 for larger prompt sets), the whole generation included (a cleaner
    of the last position's index acts only there)."""
    spec = COT_PROGRAMS[name]
    prompts = [list(p) for p in spec.prompts(size)]
    prompts = prompts if len(prompts) <= 30 else spec.sample(size, 30, seed=0)
    model = tk.compile_generator(spec(), vocab=set(spec.vocab(size)),
                                 max_seq_len=spec.max_seq_len(size), stop=STOP, verify=None)
    inputs = {tuple(p): None for p in prompts}
    for p, g in zip(prompts, model.generate(prompts, max_new_tokens=spec.max_seq_len(size),
                                            stop=STOP)):
        full = list(p) + list(g.tokens)
        inputs.update({tuple(full[:k]): None for k in range(len(p), len(full) + 1)})
    return model, [list(x) for x in inputs]


@settings(max_examples=100, deadline=None)
@given(cases())
def test_generated_programs_round_trip(case):
    vocab, max_seq_len, program = case
    model = tk.compile(program, vocab=vocab, max_seq_len=max_seq_len, verify=None)
    note(format_program(program))
    check_round_trip(model, list(verification_inputs(model.config)), cache_inputs=8)


# -- ground-truth circuits -----------------------------------------------------------------------
def _shape(circ):
    return [(c.name, c.kind, c.role, c.node, c.deps) for c in circ.components]


@pytest.mark.no_extra
def test_circuit_of_sort_unique():
    keys = rasp.tokens
    model = tk.compile(lib.make_sort_unique(rasp.tokens, keys), vocab={1, 2, 3, 4},
                       max_seq_len=4)
    circ = export.circuit(model)
    # smaller = Select(keys, keys, LT); target_pos = SelectorWidth(smaller) (a head that
    # attends to BOS and an MLP that turns 1/(w+1) into w); sort = Aggregate(Select(
    # target_pos, indices, EQ), vals): one head reading target_pos (query) and indices (key).
    assert _shape(circ) == [
        ("embed", "embed", "node", "tokens", ()),
        ("L0.H0", "head", "node", "target_pos", ("embed",)),
        ("L0.mlp[0:8]", "mlp", "node", "target_pos", ("L0.H0", "embed")),
        ("L1.H0", "head", "node", "sort", ("embed", "L0.mlp[0:8]")),
    ]
    head = circ["L1.H0"]
    assert {d.label for d in head.reads if not d.internal} == {"target_pos", "indices", "tokens"}
    assert {d.label for d in head.reads if d.internal} == {"bos", "one"}  # the BOS default
    assert {d.label for d in head.writes} == {"sort"}
    assert head.hook == "blocks.1.attn.hook_result" and head.head == 0
    assert circ["L0.mlp[0:8]"].hook == "blocks.0.mlp.hook_post"
    assert circ.nodes == ("tokens", "target_pos", "sort")
    assert {d.label for d in circ.output} == {"sort"}


@pytest.mark.no_extra
def test_circuit_of_hist():
    model = tk.compile(lib.make_hist(), vocab={"a", "b", "c"}, max_seq_len=4)
    circ = export.circuit(model)
    # hist = SelectorWidth(Select(tokens, tokens, EQ)): one head and its MLP.
    assert _shape(circ) == [
        ("embed", "embed", "node", "tokens", ()),
        ("L0.H0", "head", "node", "hist", ("embed",)),
        (circ.components[2].name, "mlp", "node", "hist", ("L0.H0", "embed")),
    ]
    assert {d.label for d in circ["L0.H0"].reads if not d.internal} == {"tokens"}
    assert circ.edges() == (("embed", "L0.H0"), ("L0.H0", circ.components[2].name),
                            ("embed", circ.components[2].name))


# -- safetensors ---------------------------------------------------------------------------------
def test_safetensors_round_trip(tmp_path):
    model = _compiled("sort", False, np.float64)
    path = tmp_path / "sort.safetensors"
    export.save_safetensors(model, path)
    loaded = export.load_safetensors(path)
    inputs = list(verification_inputs(model.config))
    assert loaded.run_batch(inputs) == model.run_batch(inputs)
    assert loaded.meta() == model.meta()
    for k, a in model.weights.arrays().items():
        assert np.array_equal(loaded.weights.arrays()[k], a)
    # readable without theory_kit: plain safetensors + JSON metadata
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as fh:
        assert "layer0.W_Q" in fh.keys() and "theory_kit.meta" in fh.metadata()


def test_safetensors_transformer_lens_layout(tmp_path):
    torch = _torch()
    model = _compiled("hist", True, np.float64)
    path = tmp_path / "hist_tl.safetensors"
    export.save_safetensors(model, path, transformer_lens=True)
    hooked = export.load_safetensors(path)
    ids, _ = model.encode([["a", "b", "a"]])
    with torch.no_grad():
        logits = hooked(torch.from_numpy(ids)).numpy()
    assert np.abs(logits - forward(model.weights, ids).output @ model.weights.unembed).max() \
        <= 1e-9


def test_bad_safetensors_files(tmp_path):
    model = _compiled("sort", False, np.float64)
    path = tmp_path / "m.safetensors"
    export.save_safetensors(model, path)
    from safetensors.numpy import save_file
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata()
        arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    bad = tmp_path / "bad.safetensors"
    save_file({k: v for k, v in arrays.items() if k != "unembed"}, str(bad), metadata=meta)
    with pytest.raises(InvalidModelFile, match="missing member"):
        export.load_safetensors(bad)
    arrays2 = dict(arrays, unembed=arrays["unembed"][:, :1].copy())
    save_file(arrays2, str(bad), metadata=meta)
    with pytest.raises(InvalidModelFile, match="unembed"):
        export.load_safetensors(bad)
    save_file(arrays, str(bad), metadata={"other": "x"})
    with pytest.raises(InvalidModelFile, match="not a theory_kit"):
        export.load_safetensors(bad)
    bad.write_bytes(b"garbage")
    with pytest.raises(InvalidModelFile):
        export.load_safetensors(bad)
    with pytest.raises(InvalidModelFile, match="no model file"):
        export.load_safetensors(tmp_path / "absent.safetensors")


def test_transformer_lens_file_with_a_bad_config(tmp_path):
    model = _compiled("hist", False, np.float64)
    path = tmp_path / "tl.safetensors"
    export.save_safetensors(model, path, transformer_lens=True)
    from safetensors import safe_open
    from safetensors.numpy import save_file
    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata()
        arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    for config in ("{not json", '{"n_layers": "x"}'):
        save_file(arrays, str(path), metadata=dict(meta, **{"transformer_lens.config": config}))
        with pytest.raises(InvalidModelFile, match="TransformerLens config"):
            export.load_safetensors(path)


# -- without the extra ---------------------------------------------------------------------------
@pytest.mark.no_extra
@pytest.mark.parametrize("fn", ["to_torch", "to_transformer_lens", "save_safetensors"])
def test_missing_extra_names_the_extra(fn, monkeypatch, tmp_path):
    model = tk.compile(lib.make_length(), vocab={1, 2}, max_seq_len=3)
    for m in ("torch", "transformer_lens", "safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, m, None)
    args = (tmp_path / "m.safetensors",) if fn == "save_safetensors" else ()
    with pytest.raises(export.MissingExtra, match=r"theory_kit\[export\]"):
        getattr(export, fn)(model, *args)


@pytest.mark.no_extra
def test_circuit_needs_a_compilation(tmp_path):
    model = tk.compile(lib.make_length(), vocab={1, 2}, max_seq_len=3)
    model.save(tmp_path / "m.npz")
    with pytest.raises(tk.errors.InvalidInput, match="theory_kit.compile"):
        export.circuit(tk.load(tmp_path / "m.npz"))
    assert export.circuit(model).nodes == ("tokens", "length")


@pytest.mark.no_extra
def test_roles_of_a_looped_circuit():
    """hops_loop: the pointer chase is the output's; the counter and the test `count >= k`
    (a SelectorWidth over "not done", then `hops.halts`) only decide when the loop halts."""
    model = _looped("hops_loop", np.float64)
    circ = export.circuit(model)
    by_role = defaultdict(set)
    for c in circ.components:
        if c.role != "cleaner":
            by_role[c.role].add(_unnumbered(c.node))
    assert dict(by_role) == {
        "node": {"tokens", "hops_init", "hops_next"},
        "loop": {"hops.entry", "hops.update"},
        "halting": {"hops_count_next", "selector_width", "hops.halts"}}
    assert all(c.kind == "cleaner" for c in circ.of_role("cleaner")) and circ.of_role("cleaner")
    assert tuple(map(_unnumbered, circ.nodes)) == (
        "tokens", "hops_init", "hops_next", "selector_width", "hops_count_next", "hops.halts")
    # unrolled to one more pass (the runtime's probe pass): one more copy of the block
    longer = export.circuit(model, iterations=3)
    block = [c for c in circ.components if c.pass_ == 0]
    assert len(longer.components) == len(circ.components) + len(block)
    assert [c.pass_ for c in longer.components if c.key == block[0].key] == [0, 1, 2]
    assert {c.role for c in longer.components} == {c.role for c in circ.components}
    loop = model.weights.loop
    assert export.layer_schedule(model.weights, 3) == (
        tuple(range(loop.start)) + tuple(loop.block) * 3
        + tuple(range(loop.stop, len(model.weights.layers))))


def _unnumbered(label):
    """A generated label without its unique number ("selector_width_451" -> the base)."""
    return re.sub(r"^(selector_width)_\d+$", r"\1", label)


@pytest.mark.no_extra
def test_role_and_iterations_are_checked():
    model = tk.compile(lib.make_length(), vocab={1, 2}, max_seq_len=3)
    circ = export.circuit(model)
    assert {c.role for c in circ.components} == {"node"}
    with pytest.raises(tk.errors.InvalidInput, match="'halted'"):
        circ.of_role("halted")
    with pytest.raises(tk.errors.InvalidInput, match="no loop"):
        export.circuit(model, iterations=2)
    with pytest.raises(KeyError, match="no component named 'L9.H9'"):
        circ["L9.H9"]
    with pytest.raises(tk.errors.InvalidInput, match=r"the components are \['embed'"):
        circ["L9.H9"]
    with pytest.raises(tk.errors.InvalidInput, match="int >= 0"):
        export.circuit(_looped("hops_loop", np.float64), iterations=-1)
    head = circ.components[1]
    with pytest.raises(ValueError, match="role 'halted'"):
        dataclasses.replace(head, role="halted")
    with pytest.raises(ValueError, match="only a cleaner"):
        dataclasses.replace(head, role="cleaner")
    with pytest.raises(ValueError, match="kind 'attn'"):
        dataclasses.replace(head, kind="attn")


# -- command line --------------------------------------------------------------------------------
def test_cli_compile_to_safetensors_and_export_to_transformer_lens(tmp_path, capsys):
    from theory_kit.cli import main
    out = tmp_path / "sort.safetensors"
    assert main(["compile", "sort", "--out", str(out)]) == 0
    model = export.load_safetensors(out)
    assert main(["export", str(out), "--to", "transformer-lens"]) == 0
    hooked = export.load_safetensors(tmp_path / "sort_tl.safetensors")
    torch = _torch()
    ids, _ = model.encode([[3, 1, 2]])
    with torch.no_grad():
        logits = hooked(torch.from_numpy(ids)).numpy()
    assert model.weights.readouts["output"].decode(logits, axis=-1)[0, 1:].tolist() == \
        model.run([3, 1, 2])
    npz = tmp_path / "sort.npz"
    assert main(["compile", "sort", "--out", str(npz)]) == 0
    assert main(["export", str(npz)]) == 0
    assert export.load_safetensors(tmp_path / "sort.safetensors").run([2, 1]) == model.run([2, 1])


@pytest.mark.no_extra
def test_cli_export_without_the_extra(tmp_path, capsys, monkeypatch):
    from theory_kit.cli import main
    npz = tmp_path / "len.npz"
    assert main(["compile", "length", "--out", str(npz)]) == 0
    for m in ("torch", "transformer_lens", "safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, m, None)
    assert main(["export", str(npz)]) == 2
    assert "theory_kit[export]" in capsys.readouterr().err
