"""Models built by hand from craft constructors, assembled into arrays, match plain Python on
every input — without the compiler."""

import itertools

import numpy as np
import pytest

from theory_kit.craft import BOS, ONE, BasisDirection, Embedding
from theory_kit.craft.assemble import assemble
from theory_kit.craft.attention import (bos_key_logit, predicate_codes, select_head,
                                        with_bos_columns)
from theory_kit.craft.mlp import width_decoder_mlp
from theory_kit.model import Model, load
from theory_kit.model.forward import forward

N = 4
VOCAB = ("a", "b", "c")
IDX = [BasisDirection("i", p) for p in range(N)]
TOK = [BasisDirection("t", v) for v in VOCAB]
BOS_VALUES = {BOS: 1.0, ONE: 1.0}


def _embedding():
    return Embedding("emb", tokens={v: {d: 1.0, ONE: 1.0} for v, d in zip(VOCAB, TOK)},
                     positions={p + 1: {IDX[p]: 1.0} for p in range(N)},
                     bos={BOS: 1.0, ONE: 1.0})


def _inputs():
    for n in range(1, N + 1):
        yield from itertools.product(VOCAB, repeat=n)


def _ids(seq):
    return [0] + [1 + VOCAB.index(t) for t in seq]


def _readout(weights, seq):
    """The unembedded residual [T, K] of the runtime's forward pass on one input."""
    return forward(weights, np.array([_ids(seq)]), record=True).output[0] @ weights.unembed


def _model(weights):
    return Model(weights, vocab=VOCAB, max_seq_len=N, bos="BOS", constants={},
                 output_value_set=None)


def test_previous_token_model_matches_python():
    beta = 30.0
    prev = [BasisDirection("prev", v) for v in VOCAB]
    q, k = predicate_codes(IDX, range(N), IDX, range(N), lambda k, q: k == q - 1, beta)
    codes = with_bos_columns(q, k, beta=beta, bos_key_logit=bos_key_logit(1, beta, average=True),
                             bos_values=BOS_VALUES)
    head = select_head("prev", codes, TOK, np.eye(len(VOCAB)), prev,
                       default=np.zeros(len(VOCAB)), bos_values=BOS_VALUES)
    layout = {d: i for i, d in enumerate([BOS, ONE, *IDX, *TOK, *prev])}
    weights = assemble([([head], [])], layout, _embedding(), tokens=("BOS", *VOCAB),
                       max_seq_len=N, readout=prev)
    assert weights.residual_width == len(layout)
    model = _model(weights)
    for seq in _inputs():
        assert model.run(seq) == [None] + list(seq[:-1])
        out = _readout(weights, seq)[1:]
        decoded = [VOCAB[int(np.argmax(r))] if r.max() > 0.5 else None for r in out]
        assert decoded == [None] + list(seq[:-1])
        # off-target mass at most (N+1)·e^{-β/2} (craft.attention derivation)
        np.testing.assert_allclose(out.sum(axis=1), [0.0] + [1.0] * (len(seq) - 1),
                                   atol=(N + 1) * np.exp(-beta / 2))


@pytest.mark.parametrize("causal", [False, True])
def test_two_layer_histogram_matches_python(causal):
    # layer 0: the head puts 1/(w+1) on BOS for w equal tokens, the MLP decodes it to w;
    # layer 1 is empty (no heads, no MLPs): layers compose.
    beta = 30.0
    scratch = BasisDirection("hist.bos_weight", internal=True)
    widths = list(range(N + 1))
    hist = [BasisDirection("hist", w) for w in widths]
    q, k = predicate_codes(TOK, VOCAB, TOK, VOCAB, lambda k, q: k == q, beta)
    codes = with_bos_columns(q, k, beta=beta,
                             bos_key_logit=bos_key_logit(1, beta, average=False),
                             bos_values=BOS_VALUES)
    head = select_head("hist", codes, (), np.zeros((0, 1)), (scratch,), default=[1.0],
                       bos_values=BOS_VALUES)
    decoder, steps = width_decoder_mlp("hist", scratch, widths, [{d: 1.0} for d in hist], hist)
    layout = {d: i for i, d in enumerate([BOS, ONE, *IDX, *TOK, scratch, *hist])}
    weights = assemble([([head], [decoder]), ([], [])], layout, _embedding(),
                       tokens=("BOS", *VOCAB), max_seq_len=N, readout=hist, causal=causal)
    model = _model(weights)
    for seq in _inputs():
        want = [(seq[:p + 1] if causal else seq).count(t) for p, t in enumerate(seq)]
        assert model.run(seq) == want, seq
        out = _readout(weights, seq)
        assert [int(np.argmax(r)) for r in out[1:]] == want, seq
        np.testing.assert_allclose(out[1:].max(axis=1), 1.0, atol=1e-9)
        assert np.abs(out[0]).max() < 1e-12  # MLPs are gated off at BOS


def test_assemble_names_a_missing_direction():
    head_dir = BasisDirection("nowhere")
    emb = Embedding("e", tokens={"a": {head_dir: 1.0}})
    with pytest.raises(ValueError, match="nowhere"):
        assemble([], {BOS: 0}, emb, tokens=("BOS", "a"), max_seq_len=1, readout=())


def test_the_worked_example_in_the_module_docstring_runs():
    import textwrap

    import theory_kit.craft.assemble as module

    doc = module.__doc__
    code = doc[doc.index("::") + 2:doc.index("`model.run(")].rsplit("\n", 1)[0]
    ns = {"np": np}
    exec(textwrap.dedent(code), ns)  # noqa: S102 — our own docstring
    assert ns["model"].run(["a", "b", "b", "a"]) == [None, "a", "b", "b"]


def test_a_hand_built_model_saves_loads_and_runs_without_the_compiler(tmp_path):
    """Issue 12 acceptance: built from craft constructors, run, saved, loaded and checked
    against plain Python on every input, in a process that never imports the compiler."""
    import subprocess
    import sys
    import textwrap

    import theory_kit.craft.assemble as module

    doc = module.__doc__
    build = textwrap.dedent(doc[doc.index("::") + 2:doc.index("`model.run(")].rsplit("\n", 1)[0])
    script = build + textwrap.dedent(f"""
        import itertools, sys
        from theory_kit.model import load
        model.save({str(tmp_path / "prev.npz")!r})
        loaded = load({str(tmp_path / "prev.npz")!r})
        for n in range(1, N + 1):
            for seq in itertools.product(vocab, repeat=n):
                want = [None] + list(seq[:-1])
                assert model.run(list(seq)) == want == loaded.run(list(seq)), seq
        bad = [m for m in sys.modules if m.startswith(("theory_kit.compiler", "theory_kit.rasp"))]
        assert not bad, bad
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", "import numpy as np\n" + script],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
