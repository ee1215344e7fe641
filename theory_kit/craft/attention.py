"""RASP-free attention constructors: predicate codes, BOS columns and selection heads.

Derivation (the BOS half-logit trick and softmax-to-hardmax). A selection head scores

    logit(query, key) = β·[predicate(key, query)]   for real keys,
    logit(query, BOS) = c,                            c = β/2 to average (Aggregate),
                                                      c = β   to count  (selector width),

and a BOS query scores β on the BOS key and 0 elsewhere. For an averaging head the selected
keys beat BOS and every unselected key by a logit gap of β/2, so with at most N+1 positions
the off-target mass is at most (N+1)·e^{-β/2} (bounds.offmax_mass_upper with gap β/2), which
β = 2·ln((N+1)/ε) makes ≤ ε (bounds.compiled.attention_beta). When nothing is selected BOS
wins by β/2 and the head returns BOS's value, the default. For a counting head BOS ties with
the w selected keys, so the attention on BOS is 1/(w+1) (decoded by craft.mlp.width_decoder_mlp).

BOS compensation: the codes must not depend on what the read directions hold at BOS, so each
code column subtracts its value at BOS (`bos_values`) through the ("bos",) row; likewise the
value row of BOS is set so that BOS contributes exactly the head's default.

A conjunction of k predicates is one head: summing the k leaves' codes scores kβ on keys
selected by all of them and at most (k-1)β on any other, an argmax set with gap β; the BOS
key then scores (k - 1/2)β (average) or kβ (count) — `bos_key_logit`.

Shape letters: Q query read directions, K key read directions, E code width, V value read
directions, W written directions.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from theory_kit.craft.bases import BOS, ONE, BasisDirection
from theory_kit.craft.blocks import AttentionHead
from theory_kit.errors import Problem, UnsupportedProgram

__all__ = ["QKCodes", "predicate_matrix", "predicate_codes", "bos_key_logit",
           "with_bos_columns", "select_head", "REAL"]

Column = dict  # one code coordinate: {direction: weight}

#: A linear form that is 1 at every real position and 0 at BOS (one - bos).
REAL: Mapping[BasisDirection, float] = {ONE: 1.0, BOS: -1.0}


class QKCodes(NamedTuple):
    """Query/key code matrices of a head: w_q [Q, E] over q_reads, w_k [K, E] over k_reads."""

    q_reads: tuple[BasisDirection, ...]
    k_reads: tuple[BasisDirection, ...]
    w_q: np.ndarray
    w_k: np.ndarray


def predicate_matrix(q_vals: Sequence[Any], k_vals: Sequence[Any],
                     predicate: Callable[[Any, Any], Any], *, label: str = "predicate"
                     ) -> np.ndarray:
    """P[i, j] = bool(predicate(k_vals[j], q_vals[i])) (False where either value is None).

    Raises:
        UnsupportedProgram: when the predicate raises, quoting the key and query (`label`
            names the selector in the message).
    """
    P = np.zeros((len(q_vals), len(k_vals)), dtype=bool)
    for i, q in enumerate(q_vals):
        for j, k in enumerate(k_vals):
            if q is None or k is None:
                continue
            try:
                P[i, j] = bool(predicate(k, q))
            except Exception as exc:
                raise UnsupportedProgram(
                    f"{label}: predicate raises {type(exc).__name__}({exc}) on key {k!r}, "
                    f"query {q!r}", (Problem(label, f"predicate raises on key {k!r}, "
                                            f"query {q!r}"),)) from exc
    return P


def _group(rows: np.ndarray) -> list[list[int]]:
    groups: dict = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.tobytes(), []).append(i)
    return list(groups.values())


def predicate_codes(q_dirs: Sequence[BasisDirection], q_vals: Sequence[Any],
                    k_dirs: Sequence[BasisDirection], k_vals: Sequence[Any],
                    predicate: Callable[[Any, Any], Any], beta: float, *,
                    label: str = "predicate") -> tuple[list[Column], list[Column]]:
    """Code columns whose inner product is β·P(key, query) on one-hot queries and keys.

    q_dirs[i] holds the query value q_vals[i] (one-hot), k_dirs[j] the key value k_vals[j].
    Identity: for one-hot q = e_i, k = e_j, Σ_c q·Q_c · k·K_c = β·P[i, j], using the fewest
    columns among: one (P all true, or P ignoring the query or the key; the ignored side
    reads REAL = one - bos), one per distinct row of P, or one per distinct column. An
    all-false P gives no columns. Values at BOS are not compensated here: see
    `with_bos_columns`.

    Args:
        q_dirs, q_vals: the query one-hot directions and the value each stands for.
        k_dirs, k_vals: the same for keys.
        predicate: predicate(key, query) -> truthy.
        beta: the logit of a selected key.
        label: names the selector in errors.

    Returns:
        (query columns, key columns), equally long, each column {direction: weight}.

    Raises:
        UnsupportedProgram: when the predicate raises (see `predicate_matrix`).
    """
    P = predicate_matrix(q_vals, k_vals, predicate, label=label)
    q_cols: list[Column] = []
    k_cols: list[Column] = []
    real = dict(REAL)
    if P.size and P.all():
        q_cols.append(dict(real))
        k_cols.append({d: beta * v for d, v in real.items()})
    elif P.any():
        row_groups = _group(P)
        col_groups = _group(P.T)
        if len(row_groups) == 1:  # predicate ignores the query
            q_cols.append(dict(real))
            k_cols.append({k_dirs[j]: beta for j in np.flatnonzero(P[0])})
        elif len(col_groups) == 1:  # predicate ignores the key
            q_cols.append({q_dirs[i]: 1.0 for i in np.flatnonzero(P[:, 0])})
            k_cols.append({d: beta * v for d, v in real.items()})
        elif len(row_groups) <= len(col_groups):
            for g in row_groups:
                q_cols.append({q_dirs[i]: 1.0 for i in g})
                k_cols.append({k_dirs[j]: beta for j in np.flatnonzero(P[g[0]])})
        else:
            for g in col_groups:
                k_cols.append({k_dirs[j]: beta for j in g})
                q_cols.append({q_dirs[i]: 1.0 for i in np.flatnonzero(P[:, g[0]])})
    return q_cols, k_cols


def bos_key_logit(n_predicates: int, beta: float, *, average: bool) -> float:
    """The BOS key's logit for a conjunction of `n_predicates` predicates: (k - 1/2)·β for an
    averaging head (BOS below the selected keys by β/2, above the others by β/2), k·β for a
    counting head (BOS ties with the selected keys)."""
    return (n_predicates - (0.5 if average else 0.0)) * beta


def with_bos_columns(q_cols: Sequence[Column], k_cols: Sequence[Column], *, beta: float,
                     bos_key_logit: float,
                     bos_values: Mapping[BasisDirection, float]) -> QKCodes:
    """Lay out code columns as (w_q, w_k), BOS-compensated, with the two BOS columns added.

    BOS compensation: a column's value at BOS, Σ_d w_d·bos_values[d] over directions other
    than one/bos, is subtracted through the ("bos",) row, so every predicate column is 0 when
    the query or the key is BOS. Then two columns: REAL query × BOS key scores
    `bos_key_logit` (c), and BOS query × BOS key scores β. Hence a real query sees logit
    β·Σ_leaves P on real keys and c on BOS; a BOS query sees β on BOS and 0 elsewhere.
    The input columns are not modified.

    Args:
        q_cols, k_cols: code columns (e.g. from `predicate_codes`, concatenated over leaves).
        beta: the BOS-query/BOS-key logit.
        bos_key_logit: c (see `bos_key_logit`).
        bos_values: the value each direction holds at BOS (absent: 0).

    Returns:
        QKCodes with reads in first-use order of the columns.
    """
    q_cols = [dict(c) for c in q_cols]
    k_cols = [dict(c) for c in k_cols]
    for cols in (q_cols, k_cols):
        for col in cols:
            at_bos = sum(w * bos_values.get(d, 0.0) for d, w in col.items()
                         if d not in (ONE, BOS))
            if at_bos:
                col[BOS] = col.get(BOS, 0.0) - at_bos
    q_cols.append(dict(REAL))
    k_cols.append({BOS: bos_key_logit})
    q_cols.append({BOS: 1.0})
    k_cols.append({BOS: beta})
    q_index = {d: i for i, d in enumerate(dict.fromkeys(d for col in q_cols for d in col))}
    k_index = {d: i for i, d in enumerate(dict.fromkeys(d for col in k_cols for d in col))}
    w_q = np.zeros((len(q_index), len(q_cols)))
    w_k = np.zeros((len(k_index), len(k_cols)))
    for c, col in enumerate(q_cols):
        for d, w in col.items():
            w_q[q_index[d], c] += w
    for c, col in enumerate(k_cols):
        for d, w in col.items():
            w_k[k_index[d], c] += w
    return QKCodes(tuple(q_index), tuple(k_index), w_q, w_k)


def select_head(label: str, codes: QKCodes, v_reads: Sequence[BasisDirection],
                w_v: np.ndarray, writes: Sequence[BasisDirection], *, default: Sequence[float],
                bos_values: Mapping[BasisDirection, float], w_o: Optional[np.ndarray] = None,
                note: str = "") -> AttentionHead:
    """A selection head: codes from `with_bos_columns`, values x[v_reads] @ w_v [V, W].

    The value matrix gets one more row, read from ("bos",): default - bos_values·w_v, so BOS
    contributes exactly `default` whatever v_reads hold there (BOS compensation). With the
    codes' logits the head writes the average of the selected keys' values, and `default`
    when nothing is selected (up to the off-target mass ε). With no v_reads and default 1 it
    writes the attention paid to BOS (1/(w+1) for a counting head).

    Args:
        label: the head's label.
        codes: query/key codes.
        v_reads: value directions; w_v: [V, W] their contribution to `writes`.
        writes: written directions.
        default: [W] what BOS contributes.
        bos_values: each direction's value at BOS (absent: 0).
        w_o: [W, W] output map (identity when None).
        note: the head's note.

    Returns:
        The AttentionHead (reads_v = v_reads + ("bos",)).
    """
    w_v = np.asarray(w_v, dtype=float).reshape(len(v_reads), len(writes))
    bos_vec = np.array([bos_values.get(d, 0.0) for d in v_reads])
    bos_row = np.asarray(default, dtype=float) - bos_vec @ w_v
    full = np.zeros((len(v_reads) + 1, len(writes)))
    full[:len(v_reads)] = w_v
    full[-1] = bos_row
    return AttentionHead(
        label=label, reads_q=codes.q_reads, reads_k=codes.k_reads,
        reads_v=tuple(v_reads) + (BOS,), writes=tuple(writes), w_q=codes.w_q, w_k=codes.w_k,
        w_v=full, w_o=np.eye(len(writes)) if w_o is None else w_o, note=note)
