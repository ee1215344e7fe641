"""A sweep's cells: the grid validated and expanded, each cell with its deterministic seed.

A grid is either a mapping `{name: [values...]}` (the Cartesian product, in the order the
names and values are given) or a sequence of parameter dicts (explicit cells). Parameter values
must be JSON values (None, bool, int, float, str, and lists/dicts of them) because a cell is
identified by the canonical JSON of its parameters: that text keys the store (a restarted or
extended sweep finds its finished cells) and derives the cell's seed.

    seed = int(sha256(canonical_json({"params": params, "seed_index": i}))[:8 bytes]) % 2**32

so a cell's seed depends only on its parameters and seed index, never on the worker that runs
it, the number of workers or the order cells complete. 32 bits because every RNG API takes
that (`np.random.seed` refuses more); `np.random.default_rng(seed)` is the intended use.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

from theory_kit.errors import InvalidInput

__all__ = ["Cell", "canonical_json", "cell_seed", "expand", "seed_indices", "RESERVED"]

#: Column names a sweep adds to every row; parameters and result fields may not use them.
RESERVED = ("seed", "seed_index", "status", "error", "duration", "host", "version",
            "finished_at", "attempts")

Grid = Union[Mapping[str, Sequence[Any]], Sequence[Mapping[str, Any]]]


def canonical_json(value: Any) -> str:
    """The one text of a JSON value: sorted keys, no spaces, no NaN (so equal params hash equal).

    Raises:
        InvalidInput: the value is not made of JSON values (or holds NaN/infinity).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False,
                          ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{value!r:.80} is not a JSON value ({exc})") from None


def cell_seed(params: Mapping[str, Any], seed_index: int) -> int:
    """The seed of cell (params, seed_index): 32 bits of sha256 of their canonical JSON."""
    text = canonical_json({"params": dict(params), "seed_index": int(seed_index)})
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 2**32


@dataclass(frozen=True)
class Cell:
    """One run of the task function: its parameters, seed index and derived seed."""

    params: Dict[str, Any]
    seed_index: int
    seed: int
    key: str  # canonical JSON of (params, seed_index): the store's primary key

    @classmethod
    def of(cls, params: Mapping[str, Any], seed_index: int) -> "Cell":
        params = dict(params)
        key = canonical_json({"params": params, "seed_index": int(seed_index)})
        return cls(params, int(seed_index), cell_seed(params, seed_index), key)

    def kwargs(self) -> Dict[str, Any]:
        """The task function's keyword arguments: the parameters and `seed`."""
        return {**self.params, "seed": self.seed}


def _json_problem(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "NaN and infinities cannot key a cell"
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _json_problem(item)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                return f"dict keys must be strings, got {k!r}"
            problem = _json_problem(item)
            if problem:
                return problem
        return None
    return (f"{type(value).__name__} is not a JSON value (use int, float, str, bool, None or "
            "lists/dicts of them; e.g. a name instead of an object)")


def _check_name(name: Any, where: str, problems: List[str]) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(f"{where}: parameter name {name!r} is not a Python identifier "
                        "(the task function takes parameters as keyword arguments)")
    elif name in RESERVED:
        problems.append(f"{where}: parameter name {name!r} is reserved (the sweep adds "
                        f"{', '.join(RESERVED)})")


def seed_indices(seeds: Union[int, Sequence[int]]) -> Tuple[int, ...]:
    """`seeds` as seed indices: an int n means 0..n-1; a sequence gives them explicitly.

    Raises:
        InvalidInput: not a positive int or a non-empty sequence of distinct ints >= 0.
    """
    if isinstance(seeds, bool):
        raise InvalidInput(f"seeds must be a whole number >= 1 or a list of seed indices, "
                           f"got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise InvalidInput(f"seeds must be a whole number >= 1, got {seeds!r}")
        return tuple(range(seeds))
    try:
        out = tuple(seeds)
    except TypeError:
        raise InvalidInput(f"seeds must be a whole number >= 1 or a list of seed indices, "
                           f"got {seeds!r}") from None
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if not out or bad or len(set(out)) != len(out):
        raise InvalidInput(f"seeds must be a non-empty list of distinct whole numbers >= 0, "
                           f"got {list(out)!r}")
    return out


def expand(grid: Grid, seeds: Union[int, Sequence[int]]) -> List[Cell]:
    """Every cell of `grid` × `seeds`, in grid order then seed order.

    Raises:
        InvalidInput: listing every problem at once (bad names, empty or non-list value lists,
            values that are not JSON, duplicated cells, bad seeds).
    """
    problems: List[str] = []
    rows: List[Dict[str, Any]] = []
    if isinstance(grid, Mapping):
        if not grid:
            problems.append("grid: no parameters (give at least one name: [values])")
        names = list(grid)
        for name in names:
            _check_name(name, "grid", problems)
            values = grid[name]
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
                problems.append(f"grid[{name!r}]: {values!r:.60} is not a list of values")
                continue
            if not values:
                problems.append(f"grid[{name!r}]: the list of values is empty")
            for v in values:
                problem = _json_problem(v)
                if problem:
                    problems.append(f"grid[{name!r}]: value {v!r:.60}: {problem}")
        if not problems:
            rows = [dict(zip(names, combo))
                    for combo in itertools.product(*(grid[n] for n in names))]
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        if not grid:
            problems.append("grid: the list of cells is empty")
        for i, params in enumerate(grid):
            if not isinstance(params, Mapping):
                problems.append(f"grid[{i}]: {params!r:.60} is not a dict of parameters")
                continue
            for name, v in params.items():
                _check_name(name, f"grid[{i}]", problems)
                problem = _json_problem(v)
                if problem:
                    problems.append(f"grid[{i}][{name!r}]: value {v!r:.60}: {problem}")
            rows.append(dict(params))
    else:
        problems.append(f"grid must be a dict {{name: [values]}} or a list of parameter dicts, "
                        f"got {type(grid).__name__} {grid!r:.60}")
    try:
        indices = seed_indices(seeds)
    except InvalidInput as exc:
        problems.append(str(exc))
        indices = ()
    if not problems:
        seen: Dict[str, int] = {}
        for i, params in enumerate(rows):
            text = canonical_json(params)
            if text in seen:
                problems.append(f"grid: cell {text} appears twice (cells {seen[text]} and {i})")
            seen.setdefault(text, i)
    if problems:
        raise InvalidInput(f"invalid sweep ({len(problems)} problem"
                           f"{'s' if len(problems) > 1 else ''}):\n  " + "\n  ".join(problems))
    return [Cell.of(params, s) for params in rows for s in indices]
