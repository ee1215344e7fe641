"""The RASP language: frozen expression nodes with Tracr's names, semantics and operators.

Nodes hold semantics only (functions, children, annotations); how a node becomes weights lives
in the compiler's lowering table. Every node is immutable once built: `annotate`/`named` return
a copy (Tracr mutates in place; theory_kit never mutates a node a program may share).
"""

from __future__ import annotations

import enum
import itertools
import math
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from theory_kit.errors import InvalidProgram

__all__ = [
    "RASPExpr", "SOp", "Selector", "TokensType", "IndicesType", "LengthType", "tokens", "indices",
    "length", "Map", "SequenceMap", "LinearSequenceMap", "Full", "ConstantSOp", "Select",
    "ConstantSelector", "Aggregate", "SelectorWidth", "SelectorAnd", "SelectorOr", "SelectorNot",
    "Comparison", "Encoding", "numerical", "categorical", "get_encoding", "is_numerical",
    "is_categorical", "annotate", "selector_and", "selector_or", "selector_not", "sop_not",
    "Value", "DEFAULT_ANNOTATORS",
]

Value = Union[None, int, float, str, bool, tuple]
NumericValue = Union[int, float]

_NAME_KEY = "name"
_ENCODING_KEY = "encoding"
_ids = itertools.count(1)

#: Tracr-compatible hook: DEFAULT_ANNOTATORS[key](expr) gives the default annotation `key`.
DEFAULT_ANNOTATORS: dict[str, Callable[["RASPExpr"], Any]] = {}


class Encoding(enum.Enum):
    """How an SOp lives in the residual stream: one-hot per value, or one number."""

    CATEGORICAL = "categorical"
    NUMERICAL = "numerical"


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


class RASPExpr:
    """A RASP expression. Immutable: attributes are set once, in the constructor."""

    _default_name = "expr"
    #: The attributes holding this class's child expressions, in `children` order. Tree
    #: utilities (rasp.tree: topological_order, with_children) read only this declaration.
    _child_fields: tuple[str, ...] = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_unique_id", next(_ids))
        object.__setattr__(self, "_annotations", MappingProxyType({}))

    def _set(self, **fields: Any) -> None:
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    def _replace(self, **fields: Any) -> "RASPExpr":
        """A shallow copy of this node (same class, every attribute, unique_id included) with
        `fields` overridden; the one place a frozen node is copied (annotate, with_children)."""
        new = object.__new__(type(self))
        for key, value in self.__dict__.items():
            object.__setattr__(new, key, value)
        for key, value in fields.items():
            object.__setattr__(new, key, value)
        return new

    def __setattr__(self, key: str, value: Any) -> None:
        raise InvalidProgram(
            f"RASP expressions are frozen: cannot set {key!r} on {self.label!r}; "
            "use annotate(expr, ...) or build a new node")

    def __delattr__(self, key: str) -> None:
        raise InvalidProgram(f"RASP expressions are frozen: cannot delete {key!r} on {self.label!r}")

    __hash__ = object.__hash__

    # -- identity and annotations -----------------------------------------------------------
    @property
    def unique_id(self) -> int:
        """A process-wide unique integer for this node instance."""
        return self._unique_id

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Read-only annotations, with lazily computed defaults for `name` and `encoding`."""
        return _LazyAnnotations(self)

    @property
    def name(self) -> str:
        return self.annotations[_NAME_KEY]

    @property
    def label(self) -> str:
        """The node's name; used to label residual-stream directions."""
        return self.name

    @property
    def children(self) -> tuple["RASPExpr", ...]:
        """The child expressions, as declared by the class's `_child_fields`."""
        return tuple([getattr(self, name) for name in self._child_fields])

    def named(self, name: str) -> "RASPExpr":
        """A copy of this node carrying `name` (Tracr's `.named`)."""
        return annotate(self, name=name)

    def annotated(self, **annotations: Any) -> "RASPExpr":
        """A copy of this node with extra annotations."""
        return annotate(self, **annotations)

    def __call__(self, xs: Sequence[Value]):
        # Tracr's program(xs): the one import from nodes to the interpreter (lazy, no cycle).
        from theory_kit.rasp.interpreter import evaluate

        return evaluate(self, xs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"

    def __reduce__(self):
        raise InvalidProgram(
            f"RASP programs hold Python functions and are not pickled; got {self.label!r}. "
            "Save a compiled model with CompiledModel.save instead")


class _LazyAnnotations(Mapping):
    """A node's annotations; a missing key's default is computed only when that key is read.

    Per-key laziness (as Tracr) lets a DEFAULT_ANNOTATORS entry read other annotations, e.g.
    `expr.name`, without recursing into itself.
    """

    def __init__(self, expr: "RASPExpr"):
        self._expr = expr

    def __getitem__(self, key: str) -> Any:
        explicit = self._expr._annotations
        if key in explicit:
            return explicit[key]
        if key in DEFAULT_ANNOTATORS:
            return DEFAULT_ANNOTATORS[key](self._expr)
        raise KeyError(key)

    def __iter__(self):
        explicit = self._expr._annotations
        return iter([*explicit, *(k for k in DEFAULT_ANNOTATORS if k not in explicit)])

    def __len__(self) -> int:
        return len(set(self._expr._annotations) | set(DEFAULT_ANNOTATORS))


def _check_child(owner: str, role: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise InvalidProgram(
            f"{owner}: {role} must be a {cls.__name__}, got {type(value).__name__} "
            f"{_describe(value)}")


def _check_callable(owner: str, role: str, value: Any) -> None:
    if not callable(value) or isinstance(value, RASPExpr):
        raise InvalidProgram(f"{owner}: {role} must be a function, got {_describe(value)}")


def annotate(expr: RASPExpr, **annotations: Any) -> RASPExpr:
    """Return a copy of `expr` with `annotations` added (new keys override old ones).

    Raises:
        InvalidProgram: `expr` is not a RASP expression, a name is not a non-empty string, or
            an encoding is not an `Encoding`.
    """
    if not isinstance(expr, RASPExpr):
        raise InvalidProgram(f"annotate: expected a RASP expression, got {_describe(expr)}")
    if _NAME_KEY in annotations:
        name = annotations[_NAME_KEY]
        if not isinstance(name, str) or not name:
            raise InvalidProgram(f"name must be a non-empty string, got {_describe(name)}")
    if _ENCODING_KEY in annotations:
        if not isinstance(expr, SOp):
            raise InvalidProgram(f"only SOps have an encoding; {expr.label!r} is a selector")
        if not isinstance(annotations[_ENCODING_KEY], Encoding):
            raise InvalidProgram(
                f"encoding of {expr.label!r} must be an Encoding, got "
                f"{_describe(annotations[_ENCODING_KEY])}")
    if isinstance(expr, (TokensType, IndicesType, LengthType)) and _NAME_KEY in annotations:
        raise InvalidProgram(f"the primitive {expr.label!r} cannot be renamed")
    merged = dict(expr._annotations)
    if _NAME_KEY not in merged and _NAME_KEY not in annotations:
        # Keep the auto-name of the original so that a copy is recognisably the same node.
        merged[_NAME_KEY] = expr.name
    merged.update(annotations)
    return expr._replace(_unique_id=next(_ids), _annotations=MappingProxyType(merged))


# ------------------------------------------------------------------------------------------
# S-Ops
# ------------------------------------------------------------------------------------------


class SOp(RASPExpr):
    """A sequence operation: maps an input sequence to a sequence of values."""

    _default_name = "sop"

    # Operators follow Tracr: comparisons with constants give a Map; arithmetic and logic
    # with another SOp give a SequenceMap.
    def __lt__(self, other): return Map(lambda x: x < other, self)
    def __le__(self, other): return Map(lambda x: x <= other, self)
    def __eq__(self, other): return Map(lambda x: x == other, self)  # type: ignore[override]
    def __ne__(self, other): return Map(lambda x: x != other, self)  # type: ignore[override]
    def __gt__(self, other): return Map(lambda x: x > other, self)
    def __ge__(self, other): return Map(lambda x: x >= other, self)

    def __add__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x + y, self, other)
        return Map(lambda x: x + other, self)

    def __radd__(self, other):
        return Map(lambda x: other + x, self)

    def __sub__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x - y, self, other)
        return Map(lambda x: x - other, self)

    def __rsub__(self, other):
        return Map(lambda x: other - x, self)

    def __mul__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x * y, self, other)
        return Map(lambda x: x * other, self)

    def __rmul__(self, other):
        return Map(lambda x: other * x, self)

    def __truediv__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x / y, self, other)
        return Map(lambda x: x / other, self)

    def __rtruediv__(self, other):
        return Map(lambda x: other / x, self)

    def __invert__(self):
        return Map(lambda x: not x, self)

    def __and__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x and y, self, other)
        return Map(lambda x: x and other, self)

    def __or__(self, other):
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x or y, self, other)
        return Map(lambda x: x or other, self)

    def __rand__(self, other):
        return Map(lambda x: other and x, self)

    def __ror__(self, other):
        return Map(lambda x: other or x, self)

    __hash__ = RASPExpr.__hash__

    def __bool__(self) -> bool:
        raise InvalidProgram(
            f"the truth value of SOp {self.label!r} is undefined: `==`, `<` and friends build "
            "new SOps; use `and`/`or` on evaluated lists, or `&`/`|` between SOps")


class _Primitive(SOp):
    _fixed_label = ""

    @property
    def label(self) -> str:
        return self._fixed_label

    @property
    def name(self) -> str:
        return self._fixed_label

    def __repr__(self) -> str:
        return self._fixed_label


class TokensType(_Primitive):
    """Primitive SOp: the input tokens."""

    _fixed_label = "tokens"


class IndicesType(_Primitive):
    """Primitive SOp: the position of each token (0-based)."""

    _fixed_label = "indices"


class LengthType(_Primitive):
    """Primitive SOp: the length of the input at every position (prefix length if causal)."""

    _fixed_label = "length"


tokens = TokensType()
indices = IndicesType()
length = LengthType()


class ComposedFunction:
    """x -> fs[-1](...fs[0](x)), stopping at None (a Map of None is None, fused or not).

    Applied in a loop, not by nesting closures, so 10,000 fused Maps do not recurse."""

    __slots__ = ("functions",)

    def __init__(self, functions: tuple):
        self.functions = functions

    def __call__(self, x):
        for fn in self.functions:
            if x is None:
                return None
            x = fn(x)
        return x

    def __repr__(self) -> str:
        return " ∘ ".join(getattr(fn, "__name__", repr(fn)) for fn in reversed(self.functions))


def compose(first: Callable, then: Callable) -> ComposedFunction:
    """`then` after `first` as one flat ComposedFunction."""
    parts = []
    for fn in (first, then):
        parts.extend(fn.functions if isinstance(fn, ComposedFunction) else (fn,))
    return ComposedFunction(tuple(parts))


class Map(SOp):
    """Apply `f` elementwise: Map(lambda x: x + 1, tokens)([1, 2]) == [2, 3].

    With `simplify=True` (Tracr's default) a Map of a Map is fused into one Map.
    """

    _default_name = "map"
    _child_fields = ("inner",)

    def __init__(self, f: Callable[[Value], Value], inner: SOp, simplify: bool = True):
        super().__init__()
        _check_callable("Map", "f", f)
        _check_child("Map", "inner", inner, SOp)
        if simplify and isinstance(inner, Map):
            f, inner = compose(inner.f, f), inner.inner
        self._set(f=f, inner=inner)


class SequenceMap(SOp):
    """Apply `f(x, y)` elementwise to two SOps."""

    _default_name = "sequence_map"
    _child_fields = ("fst", "snd")

    def __init__(self, f: Callable[[Value, Value], Value], fst: SOp, snd: SOp):
        super().__init__()
        _check_callable(type(self).__name__, "f", f)
        _check_child(type(self).__name__, "fst", fst, SOp)
        _check_child(type(self).__name__, "snd", snd, SOp)
        self._set(f=f, fst=fst, snd=snd)


class LinearSequenceMap(SequenceMap):
    """fst_fac * fst + snd_fac * snd, elementwise; compiles to a linear map (no MLP)."""

    _default_name = "linear_sequence_map"

    def __init__(self, fst: SOp, snd: SOp, fst_fac: float, snd_fac: float):
        for role, fac in (("fst_fac", fst_fac), ("snd_fac", snd_fac)):
            if isinstance(fac, bool) or not isinstance(fac, (int, float)) or not math.isfinite(fac):
                raise InvalidProgram(
                    f"LinearSequenceMap: {role} must be a finite number, got {_describe(fac)}")
        super().__init__(lambda x, y: fst_fac * x + snd_fac * y, fst, snd)
        self._set(fst_fac=fst_fac, snd_fac=snd_fac)


def _check_value(owner: str, role: str, value: Any) -> None:
    try:
        hash(value)
    except TypeError:
        raise InvalidProgram(f"{owner}: {role} must be hashable, got {_describe(value)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidProgram(f"{owner}: {role} must be finite, got {value!r}")


class Full(SOp):
    """The constant sequence [fill] * len(input)."""

    _default_name = "full"

    def __init__(self, fill: Value):
        super().__init__()
        _check_value("Full", "fill", fill)
        self._set(fill=fill)


class ConstantSOp(SOp):
    """A fixed sequence (for tests); its length must match the input when check_length."""

    _default_name = "constant_sop"

    def __init__(self, value: Sequence[Value], check_length: bool = True):
        super().__init__()
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise InvalidProgram(f"ConstantSOp: value must be a list, got {_describe(value)}")
        for v in value:
            _check_value("ConstantSOp", "every element", v)
        self._set(value=tuple(value), check_length=bool(check_length))


def sop_not(sop: SOp) -> SOp:
    """Elementwise logical not."""
    return Map(lambda t: not t, sop)


# ------------------------------------------------------------------------------------------
# Selectors
# ------------------------------------------------------------------------------------------


class Comparison(enum.Enum):
    """A predicate for Select, called as predicate(key, query)."""

    EQ = "=="
    LT = "<"
    LEQ = "<="
    GT = ">"
    GEQ = ">="
    NEQ = "!="
    TRUE = "True"
    FALSE = "False"

    def __call__(self, key: Value, query: Value) -> bool:
        if key is None:
            raise ValueError("key is None!")
        if query is None:
            raise ValueError("query is None!")
        return _COMPARISONS[self](key, query)


_COMPARISONS = {
    Comparison.EQ: lambda key, query: key == query,
    Comparison.LT: lambda key, query: key < query,
    Comparison.LEQ: lambda key, query: key <= query,
    Comparison.GT: lambda key, query: key > query,
    Comparison.GEQ: lambda key, query: key >= query,
    Comparison.NEQ: lambda key, query: key != query,
    Comparison.TRUE: lambda key, query: True,
    Comparison.FALSE: lambda key, query: False,
}


class Selector(RASPExpr):
    """A boolean query-by-key matrix: which keys each query attends to."""

    _default_name = "selector"

    def __and__(self, other): return selector_and(self, other)
    def __rand__(self, other): return selector_and(other, self)
    def __or__(self, other): return selector_or(self, other)
    def __ror__(self, other): return selector_or(other, self)
    def __invert__(self): return selector_not(self)


class Select(Selector):
    """selector[q][k] = predicate(keys[k], queries[q])."""

    _default_name = "select"
    _child_fields = ("keys", "queries")

    def __init__(self, keys: SOp, queries: SOp, predicate: Callable[[Value, Value], bool]):
        super().__init__()
        _check_child("Select", "keys", keys, SOp)
        _check_child("Select", "queries", queries, SOp)
        _check_callable("Select", "predicate", predicate)
        self._set(keys=keys, queries=queries, predicate=predicate)


class ConstantSelector(Selector):
    """A fixed boolean matrix (for tests)."""

    _default_name = "constant_selector"

    def __init__(self, value: Sequence[Sequence[bool]], check_length: bool = True):
        super().__init__()
        try:
            rows = tuple(tuple(bool(v) for v in row) for row in value)
        except TypeError:
            raise InvalidProgram(
                f"ConstantSelector: value must be a list of lists of bools, got {_describe(value)}"
            ) from None
        self._set(value=rows, check_length=bool(check_length))


class SelectorWidth(SOp):
    """The number of keys each query selects."""

    _default_name = "selector_width"
    _child_fields = ("selector",)

    def __init__(self, selector: Selector):
        super().__init__()
        _check_child("SelectorWidth", "selector", selector, Selector)
        self._set(selector=selector)


class _BinarySelector(Selector):
    _child_fields = ("fst", "snd")

    def __init__(self, fst: Selector, snd: Selector):
        super().__init__()
        _check_child(type(self).__name__, "fst", fst, Selector)
        _check_child(type(self).__name__, "snd", snd, Selector)
        self._set(fst=fst, snd=snd)


class SelectorAnd(_BinarySelector):
    """Elementwise `and` of two selectors."""

    _default_name = "selector_and"


class SelectorOr(_BinarySelector):
    """Elementwise `or` of two selectors."""

    _default_name = "selector_or"


class SelectorNot(Selector):
    """Elementwise `not` of a selector."""

    _default_name = "selector_not"
    _child_fields = ("inner",)

    def __init__(self, inner: Selector):
        super().__init__()
        _check_child("SelectorNot", "inner", inner, Selector)
        self._set(inner=inner)


def selector_not(inner: Selector, simplify: bool = True) -> Selector:
    """~inner; a Select is simplified into a Select with the negated predicate (as Tracr)."""
    if simplify and isinstance(inner, Select):
        pred = inner.predicate
        return Select(inner.keys, inner.queries, lambda k, q: not pred(k, q))
    return SelectorNot(inner)


def selector_and(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """fst & snd; two Selects over the same keys and queries fuse into one Select (as Tracr)."""
    if simplify:
        fused = _attempt_simplify(fst, snd, lambda a, b: a and b)
        if fused is not None:
            return fused
    return SelectorAnd(fst, snd)


def selector_or(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """fst | snd; two Selects over the same keys and queries fuse into one Select (as Tracr)."""
    if simplify:
        fused = _attempt_simplify(fst, snd, lambda a, b: a or b)
        if fused is not None:
            return fused
    return SelectorOr(fst, snd)


def _attempt_simplify(fst, snd, combine) -> Optional[Select]:
    """Fuse two Selects sharing keys and queries (a Full side matches anything), else None."""
    if not (isinstance(fst, Select) and isinstance(snd, Select)):
        return None
    fst_pred, snd_pred = fst.predicate, snd.predicate
    keys = queries = None
    if isinstance(fst.keys, Full):
        keys = snd.keys
        fst_pred = lambda k, q, p=fst_pred, c=fst.keys.fill: p(c, q)  # noqa: E731
    if isinstance(snd.keys, Full):
        keys = fst.keys
        snd_pred = lambda k, q, p=snd_pred, c=snd.keys.fill: p(c, q)  # noqa: E731
    if isinstance(fst.queries, Full):
        queries = snd.queries
        fst_pred = lambda k, q, p=fst_pred, c=fst.queries.fill: p(k, c)  # noqa: E731
    if isinstance(snd.queries, Full):
        queries = fst.queries
        snd_pred = lambda k, q, p=snd_pred, c=snd.queries.fill: p(k, c)  # noqa: E731
    if fst.keys is snd.keys:
        keys = fst.keys
    if fst.queries is snd.queries:
        queries = fst.queries
    if keys is None or queries is None:
        return None
    return Select(keys, queries, lambda k, q: combine(fst_pred(k, q), snd_pred(k, q)))


class Aggregate(SOp):
    """Average of the selected values (categorical: the selected value; `default` if none)."""

    _default_name = "aggregate"
    _child_fields = ("selector", "sop")

    def __init__(self, selector: Selector, sop: SOp, default: Value = None):
        super().__init__()
        _check_child("Aggregate", "selector", selector, Selector)
        _check_child("Aggregate", "sop", sop, SOp)
        if default is not None and not isinstance(default, (str, int, float, bool)):
            raise InvalidProgram(
                f"Aggregate: default must be None, str, int, float or bool, got {_describe(default)}")
        if isinstance(default, float) and not math.isfinite(default):
            raise InvalidProgram(f"Aggregate: default must be finite, got {default!r}")
        self._set(selector=selector, sop=sop, default=default)


# ------------------------------------------------------------------------------------------
# Encodings and default annotations
# ------------------------------------------------------------------------------------------


def numerical(sop: SOp) -> SOp:
    """A copy of `sop` encoded as one number per position."""
    return annotate(sop, encoding=Encoding.NUMERICAL)


def categorical(sop: SOp) -> SOp:
    """A copy of `sop` encoded one-hot over its value set (the default)."""
    return annotate(sop, encoding=Encoding.CATEGORICAL)


def get_encoding(sop: SOp) -> Encoding:
    """The encoding annotation of an SOp."""
    if not isinstance(sop, SOp):
        raise InvalidProgram(f"only SOps have an encoding, got {_describe(sop)}")
    return sop.annotations[_ENCODING_KEY]


def is_numerical(sop: SOp) -> bool:
    return get_encoding(sop) == Encoding.NUMERICAL


def is_categorical(sop: SOp) -> bool:
    return get_encoding(sop) == Encoding.CATEGORICAL


def _default_encoding(expr: RASPExpr):
    return Encoding.CATEGORICAL if isinstance(expr, SOp) else None


def _default_name(expr: RASPExpr) -> str:
    return f"{expr._default_name}_{expr.unique_id}"


DEFAULT_ANNOTATORS[_NAME_KEY] = _default_name
DEFAULT_ANNOTATORS[_ENCODING_KEY] = _default_encoding
