"""verify(method="prove"): sympy first, then interval branch and bound with a checkable certificate."""

import dataclasses
from fractions import Fraction

import pytest
import sympy as sp

from theory_kit.claims import Claim, verify
from theory_kit.claims.prove import InvalidProof, Proof, check_proof, prove
from theory_kit.errors import InvalidInput

TIGHT_DOMAIN = {"n": (2, 1024, "int"), "beta": (0.1, 50.0, "log")}


def taylor_claim():
    """sin x >= x - x^3/6 on [0, 3]: tight at 0 to fifth order; closed by third derivatives."""
    return Claim("taylor_sin", "sin(x)", "x - x**3/6", {"x": (0.0, 3.0, "real")}, relation=">=")


def peak_claim():
    """x exp(-x) <= exp(-1) on [0, 10]: tight at the interior maximum x = 1; several boxes."""
    return Claim("peak", "x*exp(-x)", "exp(-1)", {"x": (0.0, 10.0, "real")})


def peak_proof():
    res = prove(peak_claim(), hints=({"x": 1.0},))
    assert res.status == "proved" and res.proof.n_boxes >= 3
    return res.proof


def test_tight_formula_claim_is_proved_by_sympy():
    c = Claim("tight", "(n-1)*exp(-beta)/(1+(n-1)*exp(-beta))", "(n-1)*exp(-beta)", TIGHT_DOMAIN)
    v = verify(c, method="prove", budget=200)
    assert v.status == "proved" and v.holds and v.proof.kind == "sympy"
    assert check_proof(c, v.proof)


def test_interval_proof_with_monotonicity_at_the_tight_point():
    # log(1+x) <= x is tight at x = 0: no enclosure of x - log(1+x) on a box touching 0 is >= 0,
    # the derivative enclosure closes it
    c = Claim("log1p", "log(1+x)", "x", {"x": (0.0, 10.0, "real")})
    v = verify(c, method="prove", budget=100)
    assert v.status == "proved" and v.proof.kind == "intervals"
    assert any(leaf.cert[0] == "mono" for leaf in v.proof.leaves())
    assert check_proof(c, v.proof)


def test_interval_proofs_are_checked():
    c = taylor_claim()
    res = prove(c)
    assert res.status == "proved" and res.proof.kind == "intervals"
    assert check_proof(c, res.proof)
    assert check_proof(peak_claim(), peak_proof())


def test_interior_tight_point_is_proved_through_verify_hints():
    v = verify(peak_claim(), method="prove", budget=300)
    assert v.status == "proved" and v.proof.n_boxes >= 3 and v.prove_info["checked"]


def _tamper_leaf(proof: Proof, fn) -> Proof:
    """Apply fn to the first leaf for which it returns a changed node."""
    done = [False]

    def walk(node):
        if node.split is None:
            if not done[0]:
                new = fn(node)
                if new is not node:
                    done[0] = True
                return new
            return node
        return dataclasses.replace(node, children=tuple(walk(k) for k in node.children))

    out = dataclasses.replace(proof, root=walk(proof.root))
    assert done[0], "nothing to tamper with"
    return out


def _bump_enclosure(cert):
    """The certificate with its first stored enclosure's lower end raised by 1e-6 (None if none)."""
    if cert[0] == "enc":
        lo, hi = cert[1]
        return ("enc", (lo + Fraction(1, 10**6), hi))
    if cert[0] == "mono":
        for i, (k, end, sub) in enumerate(cert[1]):
            new = _bump_enclosure(sub)
            if new is not None:
                fixes = cert[1][:i] + ((k, end, new),) + cert[1][i + 1:]
                return ("mono", fixes, cert[2])
        new = _bump_enclosure(cert[2])
        return None if new is None else ("mono", cert[1], new)
    return None


def test_checker_rejects_a_tampered_enclosure():
    c = peak_claim()
    proof = peak_proof()

    def bump(n):
        new = _bump_enclosure(n.cert)
        return n if new is None else dataclasses.replace(n, cert=new)

    with pytest.raises(InvalidProof, match="stored enclosure"):
        check_proof(c, _tamper_leaf(proof, bump))


def test_checker_rejects_a_tampered_box():
    c = peak_claim()
    proof = peak_proof()

    def shrink(n):
        (lo, hi), = n.box
        return dataclasses.replace(n, box=((lo, hi - (hi - lo) / 4),)) if hi > lo else n

    with pytest.raises(InvalidProof, match="does not cut it exactly"):
        check_proof(c, _tamper_leaf(proof, shrink))


def test_checker_rejects_a_tampered_derivative_enclosure_and_a_foreign_claim():
    c = Claim("log1p", "log(1+x)", "x", {"x": (0.0, 10.0, "real")})
    proof = prove(c).proof

    def bump_derivative(n):
        if n.cert[0] != "mono":
            return n
        k, end, sub = n.cert[1][0]
        new = _bump_enclosure(sub)
        return n if new is None else dataclasses.replace(n, cert=("mono", ((k, end, new),) + n.cert[1][1:], n.cert[2]))

    with pytest.raises(InvalidProof, match=r"d\(h\)/dx"):
        check_proof(c, _tamper_leaf(proof, bump_derivative))
    other = Claim("log1p", "log(1+x)", "x", {"x": (0.0, 20.0, "real")})
    with pytest.raises(InvalidProof, match="root box"):
        check_proof(other, proof)
    wrong = Claim("log1p", "log(1+x)", "x/2", {"x": (0.0, 10.0, "real")})
    with pytest.raises(InvalidProof):
        check_proof(wrong, proof)


# planted false claims: never proved

def test_false_claim_is_refuted_with_an_exact_counterexample():
    c = Claim("halved", "1/(1+(n-1)*exp(-beta))", "1/(1+(n-1)/2*exp(-beta))", TIGHT_DOMAIN, relation=">=")
    v = verify(c, method="prove", budget=200)
    assert v.status == "refuted" and not v.holds and v.counterexample is not None


def test_false_claim_without_search_help_is_refuted_by_branch_and_bound():
    c = Claim("halved", "1/(1+(n-1)*exp(-beta))", "1/(1+(n-1)/2*exp(-beta))", TIGHT_DOMAIN, relation=">=")
    res = prove(c, max_seconds=30)
    assert res.status == "refuted" and res.proof is None


def test_false_only_on_a_measure_zero_set_is_never_proved():
    # (x - 1/3)^2 > 0 fails only at x = 1/3, which is not a float: the search cannot hit it
    c = Claim("measure_zero", "(x-1/3)**2", "0", {"x": (0.0, 1.0, "real")}, relation=">")
    v = verify(c, method="prove", budget=200, max_seconds=30)
    assert v.status in ("undecided", "refuted") and v.proof is None
    if v.status == "undecided":
        assert v.remaining_boxes and v.remaining_fraction < 1e-12
    # at a float point the tie is exact: refuted
    c2 = Claim("measure_zero_half", "(x-1/2)**2", "0", {"x": (0.0, 1.0, "real")}, relation=">")
    assert verify(c2, method="prove", budget=50).status == "refuted"


def test_false_only_at_integer_parameters_is_never_proved():
    # sin(pi n)^2 + 1/10^9 >= 1/10^6 ... is false exactly at integers, true between them for most reals
    c = Claim("int_only", "sin(pi*n)**2 + 10**(-9)", "10**(-6)", {"n": (1, 50, "int")}, relation=">=")
    res = prove(c, max_seconds=30)
    assert res.status == "refuted" and float(res.counterexample["n"]).is_integer()
    assert verify(c, method="prove", budget=100).status == "refuted"


def test_slightly_false_claim_is_not_proved():
    # log(1+x) <= x (1 - 1e-9): false near 0 by a relative 1e-9
    c = Claim("almost", "log(1+x)", "x*(1-1/10**9)", {"x": (0.0, 10.0, "real")})
    v = verify(c, method="prove", budget=200, max_seconds=30)
    assert v.status in ("refuted", "undecided") and v.proof is None


def test_budget_gives_undecided_with_remaining_boxes():
    c = peak_claim()
    res = prove(c, max_boxes=1)
    assert res.status == "undecided" and res.remaining_boxes and 0 < res.remaining_fraction <= 1


def test_prove_needs_formula_quantities():
    c = Claim("callable", lambda x: x, "x", {"x": (0.0, 1.0, "real")})
    with pytest.raises(InvalidInput, match="sympy expression"):
        verify(c, method="prove")
    with pytest.raises(InvalidInput, match="method"):
        verify(c, method="magic")


def test_progress_is_reported():
    seen = []
    prove(peak_claim(), max_boxes=100, progress=lambda d, b, p: seen.append((d, b, p)))
    assert all(p == "prove" and b == 100 for _, b, p in seen)
