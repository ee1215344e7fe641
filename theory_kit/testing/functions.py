"""Finite tables of named, readable functions that generated RASP programs are built from.

A generated Map holds a `NamedFunction` rather than a lambda, so a failing example prints as
`Map(x+1, tokens)` instead of `Map(<function <lambda> at 0x...>, tokens)`. Each table is ordered
simplest first: hypothesis shrinks a `sampled_from` choice toward the first entry.

Some entries are *families* parametrised by a value `v` drawn from the input's value set
(`x==v` becomes `x==2` or `x=='a'`); they are `FunctionFamily` objects. `ThresholdFamily`
entries are parametrised by a threshold `t` *between* two values of the input's value set
(`x>t` becomes `x>4.500000000005`), closest pair first.

The `ADVERSARIAL_*` tables (used by `strategies.programs(adversarial=True)`) are built to break
compilers: they return `None` on some values, mix types whose values are equal (`1`, `True`,
`1.0`), return large nearby integers (10_000_001 vs 10_000_000) and perturb one value by
1e-11 or 1e-7 so that a later threshold separates numerically close values. Every name is a
Python expression in `x` (and `y`), so `lambda x: <name>` rebuilds the function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from theory_kit.rasp.nodes import Comparison

__all__ = [
    "NamedFunction", "FunctionFamily", "CATEGORICAL_MAPS", "CATEGORICAL_TO_NUMERICAL_MAPS",
    "NUMERICAL_MAPS", "NUMERICAL_TO_CATEGORICAL_MAPS", "SEQUENCE_MAPS", "PREDICATES",
    "FUNCTIONAL_PREDICATES", "REFLEXIVE_PREDICATES", "LINEAR_FACTORS", "describe_function",
    "sorted_values", "ThresholdFamily", "ADVERSARIAL_CATEGORICAL_MAPS",
    "ADVERSARIAL_CATEGORICAL_TO_NUMERICAL_MAPS", "ADVERSARIAL_NUMERICAL_MAPS",
    "ADVERSARIAL_NUMERICAL_TO_CATEGORICAL_MAPS", "ADVERSARIAL_SEQUENCE_MAPS", "NONE_MAPS",
    "PERTURBATIONS", "perturbation", "thresholds", "LEXICOGRAPHIC_MAPS", "TYPE_MIXING_MAPS",
    "TYPE_PROBES",
]


@dataclass(frozen=True, eq=False)
class NamedFunction:
    """A pure function that prints as its source-like name, e.g. `x%3` or `k==q+1`."""

    name: str
    fn: Callable[..., Any] = field(repr=False)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


@dataclass(frozen=True, eq=False)
class FunctionFamily:
    """A function parametrised by one value `v` of the input's value set (`x==v`)."""

    template: str
    make: Callable[[Any], Callable[..., Any]] = field(repr=False)

    def bind(self, v: Any) -> NamedFunction:
        return NamedFunction(self.template.replace("v", repr(v)), self.make(v))

    def __repr__(self) -> str:
        return self.template


@dataclass(frozen=True, eq=False)
class ThresholdFamily:
    """A function parametrised by a threshold `t` between two values of the input's value set
    (`x>t`); `thresholds(values)` lists the candidates, closest pair first."""

    template: str
    make: Callable[[Any], Callable[..., Any]] = field(repr=False)

    def bind(self, t: Any) -> NamedFunction:
        return NamedFunction(self.template.replace("t", repr(t)), self.make(t))

    def __repr__(self) -> str:
        return self.template


def thresholds(values: Iterable[Any]) -> list:
    """Midpoints strictly between adjacent numeric values, closest pair first (ties by value);
    the single value itself when there is no pair. Non-numbers are ignored; [] if none."""
    nums = sorted({float(v) for v in values
                   if isinstance(v, (bool, int, float)) and not isinstance(v, complex)})
    pairs = []
    for a, b in zip(nums, nums[1:]):
        mid = a + (b - a) / 2
        if a < mid < b:
            pairs.append((b - a, mid))
    if not pairs:
        return nums[:1]
    return [mid for _, mid in sorted(pairs)]


def _f(name: str, fn: Callable[..., Any]) -> NamedFunction:
    return NamedFunction(name, fn)


# Categorical -> categorical. Small output ranges on purpose: the compiler builds one one-hot
# direction per value, so `x%3` keeps the residual stream narrow where `x*x` would not.
CATEGORICAL_MAPS: tuple = (
    _f("x", lambda x: x),
    _f("x+1", lambda x: x + 1),
    _f("x-1", lambda x: x - 1),
    _f("x%2", lambda x: x % 2),
    _f("x%3", lambda x: x % 3),
    _f("min(x,2)", lambda x: min(x, 2)),
    _f("max(x-1,0)", lambda x: max(x - 1, 0)),
    _f("3-x", lambda x: 3 - x),
    _f("x//2", lambda x: x // 2),
    _f("not x", lambda x: not x),
    _f("len(x)", lambda x: len(x)),
    _f("x*2", lambda x: x * 2),
    FunctionFamily("x==v", lambda v: lambda x: x == v),
    FunctionFamily("x!=v", lambda v: lambda x: x != v),
    FunctionFamily("x<v", lambda v: lambda x: x < v),
)

# Categorical -> numerical: an MLP reading a one-hot and writing one number.
CATEGORICAL_TO_NUMERICAL_MAPS: tuple = (
    FunctionFamily("int(x==v)", lambda v: lambda x: int(x == v)),
    _f("x", lambda x: x),
    _f("x%2", lambda x: x % 2),
    _f("x/2", lambda x: x / 2),
    _f("min(x,1)", lambda x: min(x, 1)),
)

# Numerical -> numerical: a discretising MLP over the (finite) input value set.
NUMERICAL_MAPS: tuple = (
    _f("x+1", lambda x: x + 1),
    _f("2*x", lambda x: 2 * x),
    _f("x/2", lambda x: x / 2),
    _f("1-x", lambda x: 1 - x),
    _f("x*x", lambda x: x * x),
    _f("max(x,0.5)", lambda x: max(x, 0.5)),
)

# Numerical -> categorical: a discretising MLP writing a one-hot.
NUMERICAL_TO_CATEGORICAL_MAPS: tuple = (
    _f("x>0", lambda x: x > 0),
    _f("x>=0.5", lambda x: x >= 0.5),
    _f("round(x)", lambda x: round(x)),
    _f("int(x)", lambda x: int(x)),
    _f("x==0", lambda x: x == 0),
)

# Binary categorical functions for SequenceMap.
SEQUENCE_MAPS: tuple = (
    _f("x==y", lambda x, y: x == y),
    _f("x+y", lambda x, y: x + y),
    _f("x-y", lambda x, y: x - y),
    _f("x*y", lambda x, y: x * y),
    _f("(x+y)%2", lambda x, y: (x + y) % 2),
    _f("x<y", lambda x, y: x < y),
    _f("min(x,y)", lambda x, y: min(x, y)),
    _f("max(x,y)", lambda x, y: max(x, y)),
)

# Select predicates, called predicate(key, query). Every Comparison, then custom ones.
_CUSTOM_PREDICATES: tuple = (
    _f("k==q-1", lambda k, q: k == q - 1),
    _f("k==q+1", lambda k, q: k == q + 1),
    _f("(k+q)%2==0", lambda k, q: (k + q) % 2 == 0),
    _f("k<q-1", lambda k, q: k < q - 1),
)
PREDICATES: tuple = tuple(Comparison) + _CUSTOM_PREDICATES

#: Predicates under which each query matches at most one key value (k == g(q)): with keys that
#: are distinct at every position (rasp.indices) the selector selects at most one position.
FUNCTIONAL_PREDICATES: tuple = (
    Comparison.EQ, _CUSTOM_PREDICATES[0], _CUSTOM_PREDICATES[1], Comparison.FALSE)

#: Predicates with pred(x, x) true for every x: Select(s, s, pred) selects at least the query.
REFLEXIVE_PREDICATES: tuple = (
    Comparison.EQ, Comparison.LEQ, Comparison.GEQ, Comparison.TRUE, _CUSTOM_PREDICATES[2])

#: Coefficients of generated LinearSequenceMaps.
LINEAR_FACTORS: tuple = (1, -1, 2, 0.5)


# ------------------------------------------------------------------------------------------
# Adversarial tables (strategies.programs(adversarial=True))
# ------------------------------------------------------------------------------------------

#: The perturbations `x+(eps if x==v else 0)` adds to one value: far below the compiler's
#: numerical tolerance (1e-11) and just below it (1e-7).
PERTURBATIONS: tuple = (1e-11, 1e-7)


def perturbation(eps: float, v: Any) -> NamedFunction:
    """`x+(eps if x==v else 0)`: moves the value v by eps, leaves the others alone."""
    return NamedFunction(f"x+({eps!r} if x=={v!r} else 0)",
                         lambda x: x + (eps if x == v else 0))


#: Maps that put `None` into a value set (bug shape: None inside a categorical aggregate).
NONE_MAPS: tuple = (
    FunctionFamily("None if x==v else 0", lambda v: lambda x: None if x == v else 0),
    FunctionFamily("None if x!=v else x", lambda v: lambda x: None if x != v else x),
    FunctionFamily("None if x==v else True", lambda v: lambda x: None if x == v else True),
    FunctionFamily("None if x==v else 1.0", lambda v: lambda x: None if x == v else 1.0),
    FunctionFamily("None if repr(x)==repr(v) else 0",  # tells 1, True and 1.0 apart
                   lambda v: lambda x: None if repr(x) == repr(v) else 0),
)

#: Maps whose value set holds one value under two types (1 and True, 1 and 1.0, 0 and False).
TYPE_MIXING_MAPS: tuple = (
    FunctionFamily("True if x==v else 1", lambda v: lambda x: True if x == v else 1),
    FunctionFamily("1.0 if x==v else 1", lambda v: lambda x: 1.0 if x == v else 1),
    FunctionFamily("0 if x==v else False", lambda v: lambda x: 0 if x == v else False),
    FunctionFamily("1.0 if x==v else True", lambda v: lambda x: 1.0 if x == v else True),
)

#: Maps that tell 1, True and 1.0 apart.
TYPE_PROBES: tuple = (
    _f("str(x)", lambda x: str(x)),
    _f("type(x).__name__", lambda x: type(x).__name__),
    _f("repr(x)", lambda x: repr(x)),
)

# Categorical -> categorical: None, values equal across types, large nearby ints, type probes.
ADVERSARIAL_CATEGORICAL_MAPS: tuple = NONE_MAPS + TYPE_MIXING_MAPS + TYPE_PROBES + (
    FunctionFamily("None if x==v else x", lambda v: lambda x: None if x == v else x),
    FunctionFamily("(x==v) or 0", lambda v: lambda x: (x == v) or 0),
    FunctionFamily("int(x==v)", lambda v: lambda x: int(x == v)),
    FunctionFamily("float(x==v)", lambda v: lambda x: float(x == v)),
    FunctionFamily("10000001 if x==v else 10000000",
                   lambda v: lambda x: 10000001 if x == v else 10000000),
    FunctionFamily("'a' if x==v else x", lambda v: lambda x: "a" if x == v else x),
    _f("float(x)", lambda x: float(x)),
    _f("bool(x)", lambda x: bool(x)),
    _f("x+10000000", lambda x: x + 10000000),
)

# Categorical -> numerical: None, bools, close values, large nearby numbers.
ADVERSARIAL_CATEGORICAL_TO_NUMERICAL_MAPS: tuple = (
    FunctionFamily("x+(1e-11 if x==v else 0)", lambda v: lambda x: x + (1e-11 if x == v else 0)),
    FunctionFamily("x+(1e-07 if x==v else 0)", lambda v: lambda x: x + (1e-07 if x == v else 0)),
    FunctionFamily("None if x==v else x", lambda v: lambda x: None if x == v else x),
    FunctionFamily("None if x==v else 1", lambda v: lambda x: None if x == v else 1),
    FunctionFamily("x==v", lambda v: lambda x: x == v),
    _f("x+10000000", lambda x: x + 10000000),
)

# Numerical -> numerical.
ADVERSARIAL_NUMERICAL_MAPS: tuple = (
    FunctionFamily("x+(1e-11 if x==v else 0)", lambda v: lambda x: x + (1e-11 if x == v else 0)),
    FunctionFamily("None if x==v else x", lambda v: lambda x: None if x == v else x),
    _f("x>0", lambda x: x > 0),
    _f("x+10000000", lambda x: x + 10000000),
)

# Numerical -> categorical: thresholds between (close) values, type-mixing outputs.
ADVERSARIAL_NUMERICAL_TO_CATEGORICAL_MAPS: tuple = (
    ThresholdFamily("x>t", lambda t: lambda x: x > t),
    ThresholdFamily("10000001 if x>t else 10000000",
                    lambda t: lambda x: 10000001 if x > t else 10000000),
    ThresholdFamily("1 if x>t else True", lambda t: lambda x: 1 if x > t else True),
    ThresholdFamily("1.0 if x>t else 1", lambda t: lambda x: 1.0 if x > t else 1),
    ThresholdFamily("None if x>t else 0", lambda t: lambda x: None if x > t else 0),
    _f("x", lambda x: x),
    _f("str(x)", lambda x: str(x)),
    _f("type(x).__name__", lambda x: type(x).__name__),
)

# Binary categorical functions: None, bools next to ints, tuples, close sums.
ADVERSARIAL_SEQUENCE_MAPS: tuple = (
    _f("None if x==y else x", lambda x, y: None if x == y else x),
    _f("(x==y) or 0", lambda x, y: (x == y) or 0),
    _f("(x==y) or 1", lambda x, y: (x == y) or 1),
    _f("(x, y)", lambda x, y: (x, y)),
    _f("x if x==y else y", lambda x, y: x if x == y else y),
    _f("str(x)+str(y)", lambda x, y: str(x) + str(y)),
    _f("x+y/10", lambda x, y: x + y / 10),
    _f("x+1e-11*y", lambda x, y: x + 1e-11 * y),
)

#: Binary maps that order pairs lexicographically on small ints (the compiler rewrites
#: SelectorWidth(Select(f(a, b), f(a, b), <)) for these into two heads on a and b).
LEXICOGRAPHIC_MAPS: tuple = (
    _f("x+y/10", lambda x, y: x + y / 10),
    _f("10*x+y", lambda x, y: 10 * x + y),
    _f("x+1e-11*y", lambda x, y: x + 1e-11 * y),
    _f("y-x/10", lambda x, y: y - x / 10),
)


def sorted_values(values: Iterable[Any]) -> list:
    """Values in a deterministic order: numbers (bools, ints, floats) first, then the rest by repr."""
    def key(v):
        if isinstance(v, (bool, int, float)):
            return (0, float(v), type(v).__name__, "")
        return (1, 0.0, type(v).__name__, repr(v))
    return sorted(values, key=key)


def describe_function(fn: Any) -> str:
    """A short readable rendering of a function: its name for NamedFunction and Comparison,
    the `lambda ...` source text (with simple closure values) for lambdas, else its qualname."""
    if isinstance(fn, NamedFunction):
        return fn.name
    if isinstance(fn, Comparison):
        return fn.name
    name = getattr(fn, "__name__", None)
    if name == "<lambda>":
        text = _lambda_source(fn)
        if text is not None:
            closure = _closure_values(fn)
            return f"{text} [{closure}]" if closure else text
    qualname = getattr(fn, "__qualname__", None) or name
    if qualname:
        return qualname.replace(".<locals>", "")
    return type(fn).__name__


def _lambda_source(fn: Any) -> str | None:
    import inspect

    try:
        lines, _ = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    source = "".join(lines)
    starts = [i for i in range(len(source)) if source.startswith("lambda", i)
              and (i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_"))]
    if not starts:
        return None
    candidates = [_extract_lambda(source, i) for i in starts]
    if len(candidates) > 1:
        # Several lambdas on the line: prefer the one whose parameters match.
        params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
        header = "lambda " + ", ".join(params) + ":"
        matching = [c for c in candidates if c.replace(" ", "").startswith(header.replace(" ", ""))]
        if len(matching) == 1:
            return matching[0]
        return None
    return candidates[0]


def _extract_lambda(source: str, start: int) -> str:
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch in ",\n" and depth == 0:
            break
        i += 1
    return " ".join(source[start:i].split())


def _closure_values(fn: Any) -> str:
    closure = getattr(fn, "__closure__", None)
    if not closure:
        return ""
    parts = []
    for name, cell in zip(fn.__code__.co_freevars, closure):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, (int, float, str, bool)) or value is None:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)
