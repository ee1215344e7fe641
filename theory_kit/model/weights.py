"""Weights: the transformer as plain numpy arrays, its residual layout and its named readouts.

Shape letters: V token ids (BOS first), P positions (BOS at 0), D residual width, H heads,
E query/key width, F value width, M MLP hidden units, K columns of a readout.

The residual dimensions are named by `BasisDirection`s (a `ResidualLayout`), never by strings
searched at run time; what the model outputs is a set of named `Readout`s (linear maps of the
final residual, each with its own decoding). The program's output is the readout named
"output"; others are ports for runtime features (a loop's `halt` flag, tool and memory
ports). `Weights.unembed`, `output_values`, `output_encoding` and `residual_labels` are views
of the "output" readout and of the layout, kept for code written before readouts existed.

Looped (weight-shared) transformers: `Weights.loop`, a `LoopSchedule`, says which layers
form the block applied again and again, the most passes, and which readouts hold the halting
flag and the loop-carried state; `theory_kit.model.forward` runs them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.values import BasisDirection, typed_key, typed_unique, value_sort_key

__all__ = ["LayerWeights", "Weights", "ResidualLayout", "Readout", "LoopSchedule", "OUTPUT",
           "ENCODINGS"]

#: The name of the readout that holds the program's output.
OUTPUT = "output"
#: How a readout's scores become values.
ENCODINGS = ("categorical", "numerical")
#: Readout names: identifiers (they name zip members "readout.<name>.npy" in model files).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _frozen(a, dtype) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    a.setflags(write=False)
    return a


def _listing(items: Sequence, limit: int = 6) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer: W_Q, W_K [H, D, E]; W_V [H, D, F]; W_O [H, F, D]; W_in [D, M]; b_in [M];
    W_out [M, D]; b_out [D]."""

    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    W_in: np.ndarray
    b_in: np.ndarray
    W_out: np.ndarray
    b_out: np.ndarray

    ARRAYS = ("W_Q", "W_K", "W_V", "W_O", "W_in", "b_in", "W_out", "b_out")

    def __post_init__(self):
        dtype = self.W_in.dtype if hasattr(self.W_in, "dtype") else np.float64
        for name in self.ARRAYS:
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        h, d, e = self.W_Q.shape
        f = self.W_V.shape[2]
        m = self.W_in.shape[1]
        expected = {"W_K": (h, d, e), "W_V": (h, d, f), "W_O": (h, f, d), "W_in": (d, m),
                    "b_in": (m,), "W_out": (m, d), "b_out": (d,)}
        bad = {k: getattr(self, k).shape for k, v in expected.items() if getattr(self, k).shape != v}
        if bad:
            raise InvalidInput(f"LayerWeights: inconsistent shapes {bad} (expected {expected})")

    @property
    def n_heads(self) -> int:
        return self.W_Q.shape[0]

    @property
    def mlp_hidden(self) -> int:
        return self.W_in.shape[1]


# -- the residual layout -------------------------------------------------------------------------
def _dim_name(directions: Sequence[BasisDirection]) -> str:
    return " / ".join(str(x) for x in directions)


@dataclass(frozen=True)
class ResidualLayout:
    """What each residual dimension holds, as named directions.

    `dims[i]` lists the directions laid at dimension i: usually one; several when the compiler
    reuses a dimension after the last reader of its previous direction (they never live there
    at the same time); none for a dimension nobody named. `names[i]` is the dimension's
    printable name, " / ".join of its directions — or, for a dimension with no directions, any
    name (a model file of format 1 stored names only: `from_labels`).

    Invariants (checked on construction, all problems reported at once): every direction is a
    BasisDirection and appears once in the whole layout; `names` has one string per dimension;
    a dimension with directions is named after them.

    Lookup: `index(direction)` (the dimension of a direction), `indices(label)` (the dimensions
    of every direction with that label, e.g. all one-hot directions of an SOp),
    `directions(label)`.
    """

    dims: tuple[tuple[BasisDirection, ...], ...]
    names: Optional[tuple[str, ...]] = None

    def __post_init__(self):
        dims = tuple(tuple(d) for d in self.dims)
        object.__setattr__(self, "dims", dims)
        problems = []
        bad = [(i, x) for i, d in enumerate(dims) for x in d if not isinstance(x, BasisDirection)]
        if bad:
            problems.append("dimensions hold non-directions " + _listing(
                [f"{x!r:.40} (dimension {i})" for i, x in bad]))
        seen: dict = {}
        for i, d in enumerate(dims):
            for x in d:
                if isinstance(x, BasisDirection):
                    seen.setdefault(x, []).append(i)
        repeated = [f"{x} (dimensions {', '.join(map(str, ix))})"
                    for x, ix in seen.items() if len(ix) > 1]
        if repeated:
            problems.append("repeated directions " + _listing(repeated))
        derived = tuple(_dim_name(d) for d in dims) if not bad else ()
        if self.names is None:
            object.__setattr__(self, "names", derived)
        else:
            names = tuple(self.names)
            object.__setattr__(self, "names", names)
            if len(names) != len(dims):
                problems.append(f"{len(names)} names for {len(dims)} dimensions")
            elif not all(isinstance(n, str) for n in names):
                problems.append(f"names must be strings, got {names!r:.80}")
            elif derived:
                wrong = [f"dimension {i} named {n!r} holds {derived[i]!r}"
                         for i, (n, d) in enumerate(zip(names, dims)) if d and n != derived[i]]
                if wrong:
                    problems.append("names disagree with directions: " + _listing(wrong))
        if problems:
            raise InvalidInput("ResidualLayout: " + "; ".join(problems))
        object.__setattr__(self, "_index", {x: i for x, ix in seen.items() for i in ix})

    @classmethod
    def from_index(cls, index: Mapping[BasisDirection, int], width: Optional[int] = None
                   ) -> "ResidualLayout":
        """The layout of a {direction: dimension} map (dimensions of several directions list
        them in `BasisDirection.sort_key` order; width: max index + 1 unless given)."""
        if any(not isinstance(i, (int, np.integer)) or i < 0 for i in index.values()):
            raise InvalidInput(f"ResidualLayout.from_index: dimensions must be ints >= 0, got "
                               f"{sorted(set(map(repr, index.values())))!r:.80}")
        d = max(index.values(), default=-1) + 1 if width is None else width
        if d < max(index.values(), default=-1) + 1:
            raise InvalidInput(f"ResidualLayout.from_index: width {d} < largest dimension "
                               f"{max(index.values())} + 1")
        slots: list[list] = [[] for _ in range(d)]
        for x, i in sorted(index.items(), key=lambda kv: (kv[1], kv[0].sort_key())):
            slots[i].append(x)
        return cls(tuple(map(tuple, slots)))

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> "ResidualLayout":
        """Names without directions (what a model file of format 1 recorded): lookups by
        direction find nothing, `labels` prints as before."""
        names = tuple(labels)
        return cls(((),) * len(names), names)

    @property
    def width(self) -> int:
        return len(self.dims)

    def __len__(self) -> int:
        return len(self.dims)

    @property
    def labels(self) -> tuple[str, ...]:
        """The printable name of every dimension (what `residual_labels` always was)."""
        return self.names

    def __contains__(self, direction: object) -> bool:
        return direction in self._index

    def index(self, direction: BasisDirection) -> int:
        """The dimension holding `direction`.

        Raises:
            InvalidInput: no dimension holds it (KeyError-like; the message names it).
        """
        try:
            return self._index[direction]
        except (KeyError, TypeError):
            raise InvalidInput(f"ResidualLayout: no dimension holds the direction "
                               f"{direction!s:.80}") from None

    def directions(self, label: str, *, internal: Optional[bool] = None
                   ) -> tuple[BasisDirection, ...]:
        """Every direction labelled `label` (internal or not, unless `internal` says), in
        dimension order."""
        return tuple(x for d in self.dims for x in d if x.label == label
                     and (internal is None or x.internal == internal))

    def indices(self, label: str, *, internal: Optional[bool] = None) -> np.ndarray:
        """The dimensions of `directions(label, internal=...)`, in the same order, as an int
        array (ready to index a residual: `residual[..., layout.indices("x")]`)."""
        return np.array([self._index[x] for x in self.directions(label, internal=internal)],
                        dtype=np.int64)


# -- readouts ------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    """A finite int, float or bool: a value a numerical readout can decode to."""
    return isinstance(v, (bool, int, float)) and math.isfinite(v)


@dataclass(frozen=True, eq=False)
class Readout:
    """A named linear readout of the final residual and how its scores decode to values.

    scores [.., K] = final residual [.., D] @ `unembed` [D, K], then:

    * categorical (K = len(values)): the value of the highest-scoring column, or None where no
      column scores at least 1/2 (no value: the residual holds none of these one-hot values);
    * numerical (K = 1): the score x itself, snapped to a reachable value when it is close to
      one. With `reachable` known, let v be the reachable value whose float(v) is nearest to
      x and tol = `tolerance`: a quarter of the smallest gap between distinct reachable
      numbers (1/2 when there is only one), where numbers within SAME_NUMBER = 1e-9 relative
      of each other count as one (the same float sum added in another order: the weights
      cannot tell them apart). If |x - float(v)| <= tol the decoded value is v itself — the
      Python value the reference computes, type included (3 for an int, the correctly
      rounded 10/3 for a mean); for such a cluster of near-equal numbers, the middle one of
      them (then == with the reference may fail in the last bits). Otherwise the decoded
      value is x unchanged: a score that far from every reachable value means the weights did
      not compute one of them, and the raw number keeps that visible instead of disguising it
      as a plausible value. With `reachable` None (unknown or too many values) the decoded
      value is always x.

    Attributes:
        name: an identifier; "output" is the program's output.
        unembed: [D, K] (D the residual width).
        encoding: "categorical" or "numerical".
        values: categorical: the value of each column; numerical: ().
        reachable: numerical only: every value the readout can hold (Python values, their
            types kept: 1 and 1.0 are different values; stored sorted), or None when
            unknown.
    """

    name: str
    unembed: np.ndarray
    encoding: str = "categorical"
    values: tuple = ()
    reachable: Optional[tuple] = None
    _snap: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self):
        problems = []
        if not (isinstance(self.name, str) and _NAME.fullmatch(self.name)):
            problems.append(f"name must be an identifier, got {self.name!r:.60}")
        if self.encoding not in ENCODINGS:
            problems.append(f"encoding must be one of {list(ENCODINGS)}, got "
                            f"{self.encoding!r:.60}")
        dtype = self.unembed.dtype if isinstance(self.unembed, np.ndarray) and \
            self.unembed.dtype in (np.float32, np.float64) else np.float64
        unembed = _frozen(self.unembed, dtype)
        object.__setattr__(self, "unembed", unembed)
        object.__setattr__(self, "values", tuple(self.values))
        k = unembed.shape[1] if unembed.ndim == 2 else None
        if unembed.ndim != 2:
            problems.append(f"unembed must be [D, K], got shape {unembed.shape}")
        elif not np.all(np.isfinite(unembed)):
            problems.append("unembed has non-finite entries")
        if self.encoding == "categorical":
            if k is not None and k != len(self.values):
                problems.append(f"{len(self.values)} values for {k} unembed columns")
            if len(typed_unique(self.values)) != len(self.values):
                dup = [repr(v) for i, v in enumerate(self.values)
                       if any(typed_key(v) == typed_key(w) for w in self.values[:i])]
                problems.append(f"values repeat {_listing(dup)}")
            if self.reachable is not None:
                problems.append("reachable must be None for a categorical readout (its values "
                                "are the columns' values)")
        elif self.encoding == "numerical":
            if k is not None and k != 1:
                problems.append(f"a numerical readout has 1 unembed column, got {k}")
            if self.values:
                problems.append(f"values must be () for a numerical readout, got "
                                f"{len(self.values)}")
            if self.reachable is not None:
                reachable = tuple(self.reachable)
                bad = [repr(v) for v in reachable if not _is_number(v)]
                if bad:
                    problems.append(f"reachable values must be finite numbers, got "
                                    f"{_listing(bad)}")
                elif len(typed_unique(reachable)) != len(reachable):
                    problems.append(f"reachable values repeat: {reachable!r:.80}")
                else:  # one order, so equal sets give equal readouts (and files)
                    reachable = tuple(sorted(reachable, key=value_sort_key))
                object.__setattr__(self, "reachable", reachable)
        if problems:
            raise InvalidInput(f"Readout {self.name!r:.60}: " + "; ".join(problems))
        if self.encoding == "numerical" and self.reachable:
            object.__setattr__(self, "_snap", _snap_table(self.reachable))

    @classmethod
    def of_directions(cls, name: str, layout: ResidualLayout,
                      directions: Sequence[BasisDirection], *, encoding: str = "categorical",
                      reachable: Optional[Sequence] = None, dtype: Any = np.float64
                      ) -> "Readout":
        """A readout of named directions: column k reads `directions[k]` with weight 1.

        Categorical: one direction per value, the column's value being the direction's value;
        numerical: exactly one direction.

        Raises:
            InvalidInput: a direction is not in `layout`, or the readout is malformed.
        """
        unembed = np.zeros((layout.width, len(directions)), dtype=dtype)
        missing = [str(x) for x in directions if x not in layout]
        if missing:
            raise InvalidInput(f"Readout {name!r}: directions {_listing(missing)} are not in "
                               f"the layout")
        for k, x in enumerate(directions):
            unembed[layout.index(x), k] = 1.0
        values = tuple(x.value for x in directions) if encoding == "categorical" else ()
        return cls(name, unembed, encoding, values,
                   None if reachable is None else tuple(reachable))

    @property
    def width(self) -> int:
        """K, the number of columns."""
        return self.unembed.shape[1]

    @property
    def tolerance(self) -> Optional[float]:
        """How far from a reachable value a numerical score still decodes to it (None: no
        snapping)."""
        return None if self._snap is None else self._snap[2]

    def decode(self, scores: np.ndarray, axis: int = -1) -> np.ndarray:
        """Values from scores (K columns along `axis`): an object array for a categorical
        readout or a numerical one with reachable values, float64 otherwise (see the class
        docstring for the rule)."""
        if self.encoding == "categorical":
            return self._table()[_best_column(scores, axis)]
        x = np.take(scores, 0, axis=axis).astype(np.float64)
        if self._snap is None:
            return x
        keys, table, tol = self._snap
        if len(keys) > 1:
            j = np.clip(np.searchsorted(keys, x), 1, len(keys) - 1)
            near = np.where(np.abs(x - keys[j - 1]) <= np.abs(x - keys[j]), j - 1, j)
        else:
            near = np.zeros(x.shape, dtype=np.int64)
        close = np.abs(keys[near] - x) <= tol
        out = x.astype(object)
        out[close] = table[near[close]]
        return out

    def _table(self) -> np.ndarray:
        """Categorical: the value of each column, then None (no value)."""
        cached = self.__dict__.get("_table_cache")
        if cached is None:
            cached = np.empty(len(self.values) + 1, dtype=object)
            for i, v in enumerate(self.values):  # element-wise: values may be tuples
                cached[i] = v
            cached[-1] = None
            object.__setattr__(self, "_table_cache", cached)
        return cached

    def astype(self, dtype: Any) -> "Readout":
        return Readout(self.name, np.asarray(self.unembed, dtype=dtype), self.encoding,
                       self.values, self.reachable)


#: `_best_column` compares the columns one by one up to this many (elementwise ops along the
#: other axes, contiguous in a feature-major residual) and calls argmax beyond (which reduces
#: a non-last axis slowly). Measured on scores shaped as make_sort's output readout in a
#: run_batch chunk ([4, 768, 8] float32, a view of [4, 768, 9]): 44 us against 179 us.
_COMPARE_MAX_COLUMNS = 16


def _best_column(scores: np.ndarray, axis: int) -> np.ndarray:
    """The categorical rule's column per row of `scores` (K columns along `axis`): the first
    column of the largest score when that score is >= 1/2, else K (no value; so is a NaN
    among the scores, as argmax puts it first)."""
    k = scores.shape[axis]
    if not k:
        return np.zeros(np.delete(scores.shape, axis), dtype=np.intp)
    if k > _COMPARE_MAX_COLUMNS:
        idx = np.expand_dims(scores.argmax(axis=axis), axis)
        top = np.take_along_axis(scores, idx, axis)
        return np.where(top >= 0.5, idx, k).squeeze(axis)
    cols = np.moveaxis(scores, axis, 0)
    top = cols[0].copy()
    idx = np.zeros(top.shape, dtype=np.intp)
    for j in range(1, k):
        np.putmask(idx, cols[j] > top, j)    # strictly greater: the first maximum wins
        np.maximum(top, cols[j], out=top)    # propagates NaN
    return np.where(top >= 0.5, idx, k)


#: Reachable numbers closer than this (relative to max(1, |x|)) are one number to the weights:
#: the same sum of floats added in two orders (0.7 - 0.4 and 0.3) differs in the last bits,
#: far below what a forward pass resolves.
SAME_NUMBER = 1e-9


def _snap_table(reachable: tuple) -> tuple[np.ndarray, np.ndarray, float]:
    """(sorted distinct floats, the value decoded at each, tolerance) of reachable values.

    Values equal as floats (0 and 0.0, 1 and True) share a key: the residual cannot tell them
    apart, so the key decodes to its float variant when there is one (a mean's type), else
    the first in value order — numerically the same value either way. Keys within
    SAME_NUMBER of each other form one cluster, which decodes to one of its values (the
    middle one; they agree to ~1e-9 relative), and the tolerance is a quarter of the smallest
    gap between clusters (1/2 with one cluster)."""
    groups: dict = {}
    for v in sorted(reachable, key=value_sort_key):
        groups.setdefault(float(v), []).append(v)
    keys = sorted(groups)
    decoded = []
    for x in keys:
        variants = groups[x]
        floats = [v for v in variants if type(v) is float]
        decoded.append(floats[0] if floats and len(variants) > 1 else variants[0])
    clusters = [[0]]
    for i in range(1, len(keys)):
        if keys[i] - keys[i - 1] <= SAME_NUMBER * max(1.0, abs(keys[i])):
            clusters[-1].append(i)
        else:
            clusters.append([i])
    table = np.empty(len(keys), dtype=object)
    for members in clusters:
        middle = decoded[members[len(members) // 2]]
        for i in members:
            table[i] = middle
    gaps = [keys[b[0]] - keys[a[-1]] for a, b in zip(clusters, clusters[1:])]
    tol = min(gaps) / 4 if gaps else 0.5
    return np.array(keys), table, tol


# -- the loop schedule ---------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@dataclass(frozen=True)
class LoopSchedule:
    """Which layers of a weight-shared looped transformer repeat, and the readouts that steer it.

    layers[:start] run once (the prelude), then the block layers[start:stop] runs up to
    `max_iterations` times (passes), then layers[stop:] once (the epilogue). Pass k
    (k = 1, 2, ...) computes, from the state s_{k-1} it starts from, the halting flag h_{k-1}
    into the `halt` readout (decoded after the block: True at every real position means the
    sequence has halted) and the next state s_k; the weights themselves keep s_k = s_{k-1}
    once the flag is set, so passes after halting change nothing. The runtime stops a batch
    when every sequence has halted (`theory_kit.model.forward.run_planned`).

    Attributes:
        start, stop: the looped block is layers[start:stop] (0 <= start < stop; the weights
            check stop <= their number of layers).
        max_iterations: the most passes of the block (>= 1).
        halt: the name of a categorical readout with True among its values.
        state: the names of the readouts of the loop-carried state components (what
            `Model.loop_traces` decodes after every pass).

    Raises:
        InvalidInput: listing every malformed field with its value.
    """

    start: int
    stop: int
    max_iterations: int
    halt: str = "halt"
    state: tuple[str, ...] = ()

    def __post_init__(self):
        problems = []
        ints = {}
        for name in ("start", "stop", "max_iterations"):
            v = getattr(self, name)
            if _is_int(v):
                ints[name] = int(v)
                object.__setattr__(self, name, int(v))
            else:
                problems.append(f"{name} must be an int, got {type(v).__name__} {v!r:.40}")
        if "start" in ints and ints["start"] < 0:
            problems.append(f"start must be >= 0, got {ints['start']}")
        if "start" in ints and "stop" in ints and ints["stop"] <= ints["start"]:
            problems.append(f"the block layers[{ints['start']}:{ints['stop']}] is empty (need "
                            f"start < stop)")
        if "max_iterations" in ints and ints["max_iterations"] < 1:
            problems.append(f"max_iterations must be >= 1, got {ints['max_iterations']}")
        if not (isinstance(self.halt, str) and _NAME.fullmatch(self.halt)):
            problems.append(f"halt must be a readout name (an identifier), got "
                            f"{self.halt!r:.60}")
        state = self.state
        if isinstance(state, list):
            state = tuple(state)
        if not isinstance(state, tuple):
            problems.append(f"state must be a tuple of readout names, got "
                            f"{type(state).__name__} {state!r:.60}")
        else:
            object.__setattr__(self, "state", state)
            bad = [repr(x)[:40] for x in state if not (isinstance(x, str) and _NAME.fullmatch(x))]
            if bad:
                problems.append(f"state names must be readout names (identifiers), got "
                                f"{_listing(bad)}")
            elif len(set(state)) != len(state):
                dup = sorted({x for i, x in enumerate(state) if x in state[:i]})
                problems.append(f"state names repeat {_listing(dup)}")
        if problems:
            raise InvalidInput("LoopSchedule: " + "; ".join(problems))

    @property
    def block(self) -> range:
        """The indices of the looped layers."""
        return range(self.start, self.stop)


def _halt_problem(encoding: str, values: Sequence) -> Optional[str]:
    """Why a readout of this encoding and values cannot be a loop's halting flag (None: it
    can)."""
    if encoding != "categorical":
        return f"is {encoding}; a halting flag is a categorical readout with the value True"
    if not any(v is True for v in values):
        return f"has no value True among its values {list(values)!r:.60}"
    return None


# -- the weights ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Weights:
    """token_embed [V, D]; pos_embed [P, D]; layers; the residual `layout` (D dimensions) and
    the named `readouts` (one named "output", the program's output); `loop`, for a looped
    (weight-shared) transformer, the `LoopSchedule` of its layers (None: each layer runs once).

    `unembed`, `output_values`, `output_encoding` and `residual_labels` are read-only views of
    the "output" readout and the layout.
    """

    token_embed: np.ndarray
    pos_embed: np.ndarray
    layers: tuple[LayerWeights, ...]
    tokens: tuple            # token of each token id; tokens[0] is BOS
    layout: ResidualLayout
    readouts: Mapping[str, Readout]
    causal: bool
    loop: Optional[LoopSchedule] = None

    def __post_init__(self):
        dtype = self.token_embed.dtype
        for name in ("token_embed", "pos_embed"):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "tokens", tuple(self.tokens))
        problems = []
        if not isinstance(self.layout, ResidualLayout):
            problems.append(f"layout must be a ResidualLayout, got {type(self.layout).__name__}")
        readouts = dict(self.readouts) if isinstance(self.readouts, Mapping) else None
        if readouts is None:
            problems.append(f"readouts must map names to Readouts, got "
                            f"{type(self.readouts).__name__}")
            readouts = {}
        for name, r in readouts.items():
            if not isinstance(r, Readout):
                problems.append(f"readout {name!r:.40} is a {type(r).__name__}, not a Readout")
            elif r.name != name:
                problems.append(f"readout {r.name!r} filed under the name {name!r:.40}")
        if OUTPUT not in readouts:
            problems.append(f"no readout named {OUTPUT!r} (the program's output); readouts: "
                            f"{sorted(map(str, readouts))}")
        # "output" first, then by name: a deterministic order for arrays() and save
        ordered = {k: readouts[k] for k in sorted(readouts, key=lambda k: (k != OUTPUT, str(k)))}
        readouts = {k: (r.astype(dtype) if isinstance(r, Readout) and r.unembed.dtype != dtype
                        else r) for k, r in ordered.items()}
        object.__setattr__(self, "readouts", MappingProxyType(readouts))
        d = self.token_embed.shape[1]
        if self.pos_embed.shape[1] != d:
            problems.append(f"pos_embed width {self.pos_embed.shape[1]} != {d}")
        for name, r in readouts.items():
            if isinstance(r, Readout) and r.unembed.shape[0] != d:
                problems.append(f"readout {name!r} unembed rows {r.unembed.shape[0]} != {d}")
        if isinstance(self.layout, ResidualLayout) and self.layout.width != d:
            problems.append(f"{self.layout.width} residual layout dimensions for width {d}")
        if len(self.tokens) != self.token_embed.shape[0]:
            problems.append(f"{len(self.tokens)} tokens for {self.token_embed.shape[0]} rows")
        for i, layer in enumerate(self.layers):
            if layer.W_in.shape[0] != d or layer.W_Q.shape[1] != d:
                problems.append(f"layer {i} width differs from {d}")
        problems += self._loop_problems(readouts)
        if problems:
            raise InvalidInput("Weights: " + "; ".join(problems))

    def _loop_problems(self, readouts: Mapping[str, Any]) -> list[str]:
        loop = self.loop
        if loop is None:
            return []
        if not isinstance(loop, LoopSchedule):
            return [f"loop must be a LoopSchedule or None, got {type(loop).__name__} "
                    f"{loop!r:.60}"]
        problems = []
        if loop.stop > len(self.layers):
            problems.append(f"loop block layers[{loop.start}:{loop.stop}] runs past the "
                            f"{len(self.layers)} layers")
        missing = [name for name in (loop.halt, *loop.state) if name not in readouts]
        if missing:
            problems.append(f"loop names readouts {_listing([repr(m) for m in missing])} that "
                            f"the weights do not have (readouts: {sorted(map(str, readouts))})")
        halt = readouts.get(loop.halt)
        problem = _halt_problem(halt.encoding, halt.values) if isinstance(halt, Readout) else None
        if problem:
            problems.append(f"loop halt readout {loop.halt!r} {problem}")
        return problems

    # -- views of the "output" readout and the layout (kept for code before readouts) ---------
    @property
    def output(self) -> Readout:
        return self.readouts[OUTPUT]

    @property
    def unembed(self) -> np.ndarray:
        """[D, K] of the "output" readout."""
        return self.output.unembed

    @property
    def output_values(self) -> tuple:
        """Categorical: the value of each "output" column; numerical: ()."""
        return self.output.values

    @property
    def output_encoding(self) -> str:
        return self.output.encoding

    @property
    def residual_labels(self) -> tuple[str, ...]:
        """The printable name of every residual dimension (`layout.labels`)."""
        return self.layout.labels

    @property
    def dtype(self) -> np.dtype:
        return self.token_embed.dtype

    @property
    def residual_width(self) -> int:
        return self.token_embed.shape[1]

    @property
    def max_seq_len(self) -> int:
        return self.pos_embed.shape[0] - 1

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by a flat name (what `save` writes): the "output" readout is "unembed",
        another readout `name` is "readout.<name>"."""
        out = {"token_embed": self.token_embed, "pos_embed": self.pos_embed, "unembed": self.unembed}
        for i, layer in enumerate(self.layers):
            for name in LayerWeights.ARRAYS:
                out[f"layer{i}.{name}"] = getattr(layer, name)
        for name, r in self.readouts.items():
            if name != OUTPUT:
                out[f"readout.{name}"] = r.unembed
        return out

    def with_readouts(self, *readouts: Readout) -> "Weights":
        """The same weights with these readouts added (or replacing those of the same name)."""
        return Weights(self.token_embed, self.pos_embed, self.layers, self.tokens, self.layout,
                       {**self.readouts, **{r.name: r for r in readouts}}, self.causal,
                       self.loop)

    def astype(self, dtype: Any) -> "Weights":
        cast = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731
        layers = tuple(LayerWeights(*(cast(getattr(l, n)) for n in LayerWeights.ARRAYS))
                       for l in self.layers)
        return Weights(cast(self.token_embed), cast(self.pos_embed), layers, self.tokens,
                       self.layout, {k: r.astype(dtype) for k, r in self.readouts.items()},
                       self.causal, self.loop)
