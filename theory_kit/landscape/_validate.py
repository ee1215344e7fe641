"""Input checks shared by the landscape modules: collect every problem, then raise once."""

from __future__ import annotations

import numbers

import cvxpy as cp
import numpy as np

from theory_kit.errors import InvalidInput

__all__ = [
    "Problems",
    "check_matrix",
    "check_vector",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_seed",
    "check_solver",
    "check_patterns",
]


class Problems:
    """Accumulates input problems so one InvalidInput reports all of them at once."""

    def __init__(self, context: str):
        self.context = context
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            listing = "\n  - ".join(self.items)
            raise InvalidInput(f"{self.context}: {len(self.items)} invalid input(s):\n  - {listing}")


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_nonfinite(a: np.ndarray) -> str:
    bad = np.argwhere(~np.isfinite(a))[0]
    index = tuple(int(i) for i in bad)
    return f"{float(a[index])!r} at index {index if len(index) > 1 else index[0]}"


def check_matrix(problems: Problems, name: str, value, *, ndim: int = 2, min_rows: int = 1,
                 allow_empty: bool = False) -> np.ndarray | None:
    """Return `value` as a finite float array with `ndim` dimensions, or record why not.

    With allow_empty, the last axis may have length 0 (e.g. a width-0 network).
    """
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        problems.add(f"{name} must be a real numeric array, got {_describe(value)}")
        return None
    if a.ndim != ndim:
        problems.add(f"{name} must be {ndim}-D, got shape {a.shape}")
        return None
    sizes = a.shape[:-1] if allow_empty else a.shape
    if any(s < 1 for s in sizes) or (a.shape[0] < min_rows and not (allow_empty and ndim == 1)):
        problems.add(f"{name} must be non-empty with at least {min_rows} row(s), got shape {a.shape}")
        return None
    if not np.all(np.isfinite(a)):
        problems.add(f"{name} must be finite, found {_first_nonfinite(a)}")
        return None
    return a


def check_vector(problems: Problems, name: str, value, *, length: int | None,
                 allow_empty: bool = False) -> np.ndarray | None:
    """Return `value` as a finite 1-D float array (of `length` if given), or record why not."""
    a = check_matrix(problems, name, value, ndim=1, allow_empty=allow_empty)
    if a is not None and length is not None and a.shape[0] != length:
        problems.add(f"{name} must have length {length} (rows of X), got shape {a.shape}")
        return None
    return a


def _is_real_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(problems: Problems, name: str, value) -> float | None:
    """Return `value` as a finite float > 0, or record why not."""
    if not _is_real_number(value) or not np.isfinite(value) or value <= 0:
        problems.add(f"{name} must be a finite real number > 0, got {_describe(value)}")
        return None
    return float(value)


def check_nonnegative(problems: Problems, name: str, value) -> float | None:
    """Return `value` as a finite float >= 0, or record why not."""
    if not _is_real_number(value) or not np.isfinite(value) or value < 0:
        problems.add(f"{name} must be a finite real number >= 0, got {_describe(value)}")
        return None
    return float(value)


def check_int(problems: Problems, name: str, value, *, minimum: int = 1) -> int | None:
    """Return `value` as an int >= minimum, or record why not."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        problems.add(f"{name} must be an integer >= {minimum}, got {_describe(value)}")
        return None
    return int(value)


def check_int_list(problems: Problems, name: str, value) -> list[int] | None:
    """Return `value` as a non-empty list of ints >= 1 (widths, heads, loop counts, sample
    sizes), or record why not (each bad entry named)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        problems.add(f"{name} must be a non-empty sequence of positive integers, got {value!r}")
        return None
    items = list(value)
    if not items:
        problems.add(f"{name} must be a non-empty sequence of positive integers, got {value!r}")
        return None
    checked = [check_int(problems, f"{name} entry {v!r}", v) for v in items]
    return None if None in checked else checked


def check_training(problems: Problems, *, n_inits, seed, max_iter, init_scale, rel_tol,
                   certified, certified_type: type, beta) -> tuple:
    """The settings of a non-convex training baseline, checked: (n_inits, seed, max_iter,
    init_scale, rel_tol); and the convex result it is compared with (solved at the same beta)."""
    if certified is not None and not isinstance(certified, certified_type):
        problems.add(f"certified must be a {certified_type.__name__} or None, "
                     f"got {type(certified).__name__}")
    elif certified is not None and beta is not None and certified.beta != beta:
        problems.add(f"certified was solved with beta={certified.beta!r}, not beta={beta!r}")
    return (check_int(problems, "n_inits", n_inits), check_seed(problems, seed),
            check_int(problems, "max_iter", max_iter),
            check_positive(problems, "init_scale", init_scale),
            check_positive(problems, "rel_tol", rel_tol))


def check_seed(problems: Problems, value) -> int | None:
    """Seeds are non-negative integers (fed to np.random.default_rng)."""
    return check_int(problems, "seed", value, minimum=0)


def check_solver(problems: Problems, value) -> str | None:
    """Return the canonical (upper-case) name of an installed cvxpy solver, or record why not."""
    installed = cp.installed_solvers()
    if not isinstance(value, str) or value.upper() not in installed:
        problems.add(f"solver must be one of the installed cvxpy solvers {installed}, got {_describe(value)}")
        return None
    return value.upper()


def check_patterns(problems: Problems, value) -> str | int | None:
    """`patterns` is "all" (exact enumeration) or a positive int (number of sampled gate vectors)."""
    if isinstance(value, str) and value in ("all", "pricing"):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    problems.add(f'patterns must be "all", "pricing" or a positive integer (number of sampled gates), '
                 f'got {_describe(value)}')
    return None
