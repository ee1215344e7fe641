"""Export (issue 17): zero-ablating a component in TransformerLens has the effect its circuit
role says (`theory_kit.export.circuit`), for every library program, looped program and
chain-of-thought generator:

* padding (every unused head and neuron at once): no output changes;
* role "node" or "loop" (the embedding included): some decoded output changes;
* role "halting": *when the loop halts* changes on some input: the halt readout after each
  pass of the model unrolled to max_iterations + 1 passes (the last is the runtime's probe
  pass, which reads the flag of the final state; hops_loop sets its flag only there); the
  first pass whose flag holds at every position is the iteration count, as
  `Model.loop_traces` reports it. No output change is asked: a halting unit reaches the
  output only by halting a sequence too early (add_loop's `length` MLP does, its `length`
  head does not);
* role "cleaner": the directions it erases keep their stale values after its layer (the
  residual stream at `hook_resid_post` changes there; in a looped model, unrolled to
  max_iterations + 1 passes: parity_loop's clean@3 erases values only the probe pass
  writes); no output change is asked, since a cleaner implements no RASP node
  (shuffle_dyck's clean@2: no later decoding is sensitive to the stale value);
* role "dead": none exists in the library.

A component of a loop block is ablated in every pass at once (its copies share weights: they
are one component of the model's own weights)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from theory_kit import export
from theory_kit.compiler.verify import verification_inputs
from theory_kit.library import COT_PROGRAMS, LOOPED_PROGRAMS, PROGRAMS
from theory_kit.model.forward import _halted, _is_true

from tests.export.test_export import _by_length, _compiled, _cot, _looped

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::FutureWarning", "ignore::UserWarning")

#: A cleaner's ablation must move the directions it erases by more than this.
STALE_ATOL = 1e-6


def _hooks(components):
    """Forward hooks zeroing `components` (a group: one component's copies in every pass)."""
    heads, neurons, embed = defaultdict(list), defaultdict(list), False
    for c in components:
        if c.kind == "head":
            heads[c.layer].append(c.head)
        elif c.kind == "embed":
            embed = True
        else:
            neurons[c.layer].append(c.neurons)

    def zero_heads(hs):
        def hook(value, hook):
            value[:, :, hs, :] = 0
            return value
        return hook

    def zero_neurons(spans):
        def hook(value, hook):
            for a, b in spans:
                value[..., a:b] = 0
            return value
        return hook

    hooks = [(f"blocks.{l}.attn.hook_result", zero_heads(hs)) for l, hs in heads.items()]
    hooks += [(f"blocks.{l}.mlp.hook_post", zero_neurons(s)) for l, s in neurons.items()]
    if embed:
        hooks.append(("hook_embed", lambda value, hook: value * 0))
    return hooks


def _padding(circ):
    return ([_Padding("head", l, head=h) for l, h in circ.unused_heads]
            + [_Padding("mlp", l, neurons=(a, b)) for l, a, b in circ.unused_neurons])


class _Padding:
    def __init__(self, kind, layer, head=None, neurons=None):
        self.kind, self.layer, self.head, self.neurons = kind, layer, head, neurons


def _run(model, hooked, inputs, components=(), resid_layers=()):
    """TransformerLens on `inputs` (grouped by length) with `components` zero-ablated: the
    decoded outputs per input, and [input][layer] the residual after each of `resid_layers`."""
    import torch
    out = model.weights.readouts["output"]
    keep: dict = {}

    def store(value, hook):
        keep[hook.name] = value.detach().numpy().copy()
    hooks = _hooks(components) + [(f"blocks.{l}.hook_resid_post", store) for l in resid_layers]
    outputs, resid = [], []
    for group in _by_length(inputs):
        ids, _ = model.encode(group)
        with torch.no_grad():
            logits = hooked.run_with_hooks(torch.from_numpy(ids), fwd_hooks=hooks).numpy()
        n = len(group[0])
        outputs += [row[1:n + 1].tolist() for row in out.decode(logits, axis=-1)]
        resid += [{l: keep[f"blocks.{l}.hook_resid_post"][i] for l in resid_layers}
                  for i in range(len(group))]
    return outputs, resid


def _halting(model, probe, inputs, components=()):
    """Per input (iterations, halted) read off the halt readout after every pass of `probe`
    (the model unrolled to max_iterations + 1 passes): the first pass whose flag holds at
    every position ran on a halted state, so the passes before it are the iterations."""
    loop = model.weights.loop
    halt = model.weights.readouts[loop.halt]
    ends = [loop.start + (k + 1) * len(loop.block) - 1 for k in range(loop.max_iterations + 1)]
    _, resid = _run(model, probe, inputs, components, ends)
    got = []
    for r in resid:
        flags = [bool(_halted(_is_true((r[l] @ halt.unembed)[None], halt, axis=-1), None)[0])
                 for l in ends]
        k = flags.index(True) if True in flags else None
        got.append((loop.max_iterations, False) if k is None else (k, True))
    return got


def _stale(circ, cleaner_group, base, ablated):
    """Whether ablating a cleaner left any of its erased directions changed after its layer."""
    rows = [circ.residual[d] for d in cleaner_group[0].writes]
    return any(np.abs(a[c.layer][:, rows] - b[c.layer][:, rows]).max() > STALE_ATOL
               for c in cleaner_group for a, b in zip(ablated, base))


def check_ablation(model, inputs, name):
    """The module docstring's checks on `inputs`."""
    circ = export.circuit(model)
    hooked = export.to_transformer_lens(model)
    inputs = sorted(inputs, key=len)
    assert circ.of_role("dead") == ()
    baseline = _run(model, hooked, inputs)[0]
    assert baseline == model.run_batch(inputs)
    assert _run(model, hooked, inputs, _padding(circ))[0] == baseline
    silent = [c[0].name for c in _groups(circ, ("node", "loop"))
              if _run(model, hooked, inputs, c)[0] == baseline]
    loop = model.weights.loop
    if loop is not None:
        # halting units and cleaners act (also) in the runtime's probe pass, on the final state
        circ = export.circuit(model, iterations=loop.max_iterations + 1)
        hooked = export.to_transformer_lens(model, iterations=loop.max_iterations + 1)
        assert _run(model, hooked, inputs)[0] == baseline  # a halted state is frozen
        traces = [(len(t.states) - 1, t.halted) for t in model.loop_traces(inputs)]
        assert _halting(model, hooked, inputs) == traces
        silent += [g[0].name for g in _groups(circ, ("halting",))
                   if _halting(model, hooked, inputs, g) == traces]
    cleaners = _groups(circ, ("cleaner",))
    base_resid = _run(model, hooked, inputs, (), sorted({c.layer for g in cleaners for c in g}))[1]
    for group in cleaners:
        resid = _run(model, hooked, inputs, group, sorted({c.layer for c in group}))[1]
        if not _stale(circ, group, base_resid, resid):
            silent.append(group[0].name)
    assert not silent, f"{name}: ablating {silent} has no effect its role asks for"


def _groups(circ, roles):
    """The components of `roles`, each with its copies in every pass of a loop."""
    groups = defaultdict(list)
    for c in circ.components:
        if c.role in roles:
            groups[c.key].append(c)
    return list(groups.values())


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_ablation_matches_the_circuit(name):
    model = _compiled(name, False, np.float64)
    check_ablation(model, list(verification_inputs(model.config)), name)


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_ablation_matches_the_circuit_of_looped_programs(name):
    model = _looped(name, np.float64)
    check_ablation(model, list(verification_inputs(model.config)), name)


@pytest.mark.parametrize("name", sorted(COT_PROGRAMS))
def test_ablation_matches_the_circuit_of_cot_generators(name):
    model, inputs = _cot(name)
    check_ablation(model, inputs, name)
