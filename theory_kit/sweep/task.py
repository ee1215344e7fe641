"""What a worker runs for one cell: call the task function, time it, catch what it raises.

`run_cell` never raises for the task's own failures: a cell that raises (or returns something
that is not a dict of JSON-able fields) comes back as status "error" with the traceback, so
one bad cell never stops a sweep. The result is serialised to JSON here, on the worker, so the
client stores text and never imports the task's libraries. Standard library only.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import traceback
from typing import Any, Callable, Dict, Union

from theory_kit.errors import InvalidInput
from theory_kit.sweep.grid import RESERVED

__all__ = ["run_cell", "resolve", "function_name", "to_json"]

_RESOLVED: Dict[str, Callable] = {}


def function_name(fn: Union[str, Callable]) -> str:
    """`fn` as MODULE:QUALNAME (how the store names the task function)."""
    if isinstance(fn, str):
        return fn
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}:{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}"


def resolve(fn: Union[str, Callable]) -> Callable:
    """The task function: `fn` itself, or the function a "MODULE:FUNCTION" string names.

    Raises:
        InvalidInput: the string does not name an importable callable."""
    if callable(fn):
        return fn
    if fn in _RESOLVED:
        return _RESOLVED[fn]
    from theory_kit.paper.loading import load_object

    obj = load_object(fn, what="the task function")
    if not callable(obj):
        raise InvalidInput(f"{fn}: is of type {type(obj).__name__}, not a function")
    _RESOLVED[fn] = obj
    return obj


def _default(value: Any):
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} {value!r:.60} is not JSON-serialisable")


def to_json(result: Any) -> str:
    """The task's result as JSON text (numpy scalars/arrays converted).

    Raises:
        TypeError: not a dict with string keys outside RESERVED and JSON-able values."""
    if not isinstance(result, dict):
        raise TypeError(f"the task function must return a dict of result fields, got "
                        f"{type(result).__name__} {result!r:.60}")
    bad = [k for k in result if not isinstance(k, str) or k in RESERVED]
    if bad:
        raise TypeError(f"result field names {bad!r} are not strings or are reserved "
                        f"({', '.join(RESERVED)})")
    return json.dumps(result, default=_default, sort_keys=True)


def run_cell(fn: Union[str, Callable], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Run `fn(**kwargs)` and return {status, result (JSON text), error, duration, host,
    version}. Only KeyboardInterrupt/SystemExit escape; every Exception is recorded."""
    version = getattr(sys.modules.get("theory_kit"), "__version__", None)
    start = time.perf_counter()
    try:
        result = to_json(resolve(fn)(**kwargs))
        status, error = "ok", None
    except Exception:  # the cell failed: record why, keep the sweep going
        result, status, error = None, "error", traceback.format_exc()
    return {"status": status, "result": result, "error": error,
            "duration": time.perf_counter() - start, "host": socket.gethostname(),
            "version": version}
