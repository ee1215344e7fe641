"""Importing the user's own code: one loader for MODULE:FUNCTION specs and for files by path.

`theory-kit compile/eval MODULE:FUNCTION` (a RASP program), `theory-kit verify --quantity
MODULE:FUNCTION` (a measured quantity) and a paper project's claims files all load user code
through this module, so they accept the same specs and fail with the same messages. Standard
library only: importing it costs nothing (the command line stays fast).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from theory_kit.errors import InvalidInput

__all__ = ["load_object", "load_file"]


def load_object(spec: str, *, what: str = "the spec", where: str | None = None):
    """The object named by MODULE:ATTRIBUTE[.ATTRIBUTE...] (the current directory is importable).

    Args:
        spec: e.g. "my_constructions:sort_program" or "pkg.mod:Class.method".
        what: how the spec is named when it is malformed ("--quantity must be MODULE:FUNCTION").
        where: the prefix of the other messages (default: the spec itself).

    Raises:
        InvalidInput: a malformed spec, a module that does not import (any exception raised
            while importing it, quoted), or a missing attribute — each message quotes `spec`.
    """
    if not isinstance(spec, str):
        raise InvalidInput(f"{what} must be MODULE:FUNCTION, got {type(spec).__name__} {spec!r}")
    mod_name, _, attr = spec.partition(":")
    if not mod_name.strip() or not attr.strip() or ":" in attr:
        raise InvalidInput(f"{what} must be MODULE:FUNCTION, got {spec!r}")
    where = spec if where is None else where
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj = importlib.import_module(mod_name)
    except Exception as exc:  # any import-time failure of user code is a usage problem
        raise InvalidInput(f"{where}: cannot import module {mod_name!r}: "
                           f"{type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidInput(f"{where}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def load_file(path: Path | str, *, module_name: str | None = None) -> ModuleType:
    """Execute the Python file `path` as a fresh module (not registered in sys.modules) and
    return it. The file's folder is importable while it runs, so it may import its neighbours.

    Raises:
        InvalidInput: the file does not exist, or running it raised (the exception quoted).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist or is not a file")
    name = module_name or f"_theory_kit_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed: say which, keep the cause
        raise InvalidInput(f"{path}: running it failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
    return module
