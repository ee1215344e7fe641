"""The shared sympy symbols the bounds are written in (one symbol per name, reused by claims).

Glossary (the names claims use for their parameters):
  n      number of attended positions (keys)            beta   inverse temperature of the softmax
  Delta  logit gap between the maximum and the rest     eps    off-maximum attention mass allowed
  r      number of tied maximal logits                  S      value spread: max_k |v_k - v_argmax|
  L      slope of a discretising ReLU pair              delta  spacing of the discretised values
  K      number of discretised levels                   rho    input perturbation, in units of delta
  p      mantissa bits (implicit bit included)          margin extra bits kept beyond log2(n)
  i      a position (1-based)                           d      address bits, d = log2(n)
  h      Hamming distance between two addresses
"""

from __future__ import annotations

import sympy as sp

__all__ = ["n", "beta", "Delta", "eps", "r", "S", "L", "delta", "K", "rho", "p", "margin", "i", "d", "h"]

n = sp.Symbol("n", positive=True, integer=True)
beta = sp.Symbol("beta", positive=True)
Delta = sp.Symbol("Delta", positive=True)
eps = sp.Symbol("eps", positive=True)
r = sp.Symbol("r", positive=True, integer=True)
S = sp.Symbol("S", nonnegative=True)
L = sp.Symbol("L", positive=True)
delta = sp.Symbol("delta", positive=True)
K = sp.Symbol("K", positive=True, integer=True)
rho = sp.Symbol("rho", real=True)
p = sp.Symbol("p", positive=True, integer=True)
margin = sp.Symbol("margin", nonnegative=True)
i = sp.Symbol("i", positive=True, integer=True)
d = sp.Symbol("d", positive=True, integer=True)
h = sp.Symbol("h", nonnegative=True, integer=True)
