"""The registry of named claims: built-ins plus claims other modules register, eagerly or lazily.

Registering is a one-liner from any module:

    register(Claim("my_claim", quantity, bound, domain, relation="<="))

or, when building the claim is expensive (compiling a model), lazily:

    @register_factory("minimal_beta")
    def _make():
        return Claim("minimal_beta", ...)

The factory runs on first `get("minimal_beta")` or `registry()`; `names()` lists it without
building it. A module whose import registers claims can itself be deferred with
`register_module("theory_kit.compiler.claims")`: it is imported on first access to the registry.
The built-in claims (theory_kit.claims.builtin) are loaded the same way, and so are the claims
about compiled models (theory_kit.claims.compiled), looped programs (theory_kit.claims.looped) and
chain-of-thought programs (theory_kit.claims.cot) when those modules are present.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Callable

from theory_kit.claims.claim import Claim
from theory_kit.errors import InvalidClaim, TheoryKitError

__all__ = ["register", "register_factory", "register_module", "registry", "get", "names", "unregister"]

_claims: dict[str, Claim] = {}
_factories: dict[str, Callable[[], Claim]] = {}
# (module, optional): an optional module is skipped when it does not exist at all; once it
# exists, its import errors surface like any other module's.
_pending_modules: list[tuple[str, bool]] = [("theory_kit.claims.builtin", False), ("theory_kit.claims.compiled", True),
                                             ("theory_kit.claims.looped", True),
                                             ("theory_kit.claims.cot", True)]
_loaded_modules: set[str] = set()


def _load_modules() -> None:
    while _pending_modules:
        name, optional = _pending_modules.pop(0)
        if name in _loaded_modules:
            continue
        _loaded_modules.add(name)
        if optional and importlib.util.find_spec(name) is None:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise TheoryKitError(f"claims module {name!r} registered with register_module could not be imported: {exc}") from exc


def register(claim: Claim, *, replace: bool = False) -> Claim:
    """Add a claim to the registry under claim.name.

    Args:
        claim: the Claim.
        replace: allow replacing a different claim (or factory) of the same name.

    Returns:
        The claim, so `X = register(Claim(...))` works.

    Raises:
        InvalidClaim: if claim is not a Claim, or the name is taken by another claim or factory
            and replace is False. Registering the same object twice is a no-op.
    """
    if not isinstance(claim, Claim):
        raise InvalidClaim(f"register expects a Claim, got {type(claim).__name__} {claim!r}")
    existing = _claims.get(claim.name)
    if existing is claim:
        return claim
    if (existing is not None or claim.name in _factories) and not replace:
        raise InvalidClaim(f"a claim named {claim.name!r} is already registered; pass replace=True to replace it")
    _factories.pop(claim.name, None)
    _claims[claim.name] = claim
    return claim


def register_factory(name: str, factory: Callable[[], Claim] | None = None, *, replace: bool = False):
    """Register a claim to be built on first use; usable as a decorator.

    Args:
        name: the claim's name (the factory must return a Claim of that name).
        factory: zero-argument callable returning the Claim; omit to use as a decorator.
        replace: allow replacing an existing claim or factory of that name.

    Returns:
        The factory (or a decorator that registers and returns it).

    Raises:
        InvalidClaim: if the name is taken and replace is False, or factory is not callable.
    """

    def deco(f):
        if not callable(f):
            raise InvalidClaim(f"register_factory({name!r}) expects a callable, got {f!r}")
        if (name in _claims or name in _factories) and _factories.get(name) is not f and not replace:
            raise InvalidClaim(f"a claim named {name!r} is already registered; pass replace=True to replace it")
        _claims.pop(name, None)
        _factories[name] = f
        return f

    return deco if factory is None else deco(factory)


def register_module(module: str, *, optional: bool = False) -> None:
    """Import `module` (which registers claims at import time) on the next registry access.

    Args:
        module: dotted module name.
        optional: skip it silently if no such module exists (errors inside it still surface).
    """
    if module not in _loaded_modules and all(module != m for m, _ in _pending_modules):
        _pending_modules.append((module, optional))


def unregister(name: str) -> None:
    """Remove a claim or factory (for tests and interactive use); unknown names are ignored."""
    _claims.pop(name, None)
    _factories.pop(name, None)


def _build(name: str) -> Claim:
    factory = _factories[name]
    claim = factory()
    if not isinstance(claim, Claim) or claim.name != name:
        raise InvalidClaim(f"factory for claim {name!r} returned {claim!r}; expected a Claim named {name!r}")
    del _factories[name]
    _claims[name] = claim
    return claim


def names() -> tuple[str, ...]:
    """Names of all registered claims (built or not), sorted."""
    _load_modules()
    return tuple(sorted(set(_claims) | set(_factories)))


def get(name: str) -> Claim:
    """The registered claim called name, building it if it was registered lazily.

    Raises:
        InvalidClaim: for an unknown name, listing the known ones.
    """
    _load_modules()
    if name in _claims:
        return _claims[name]
    if name in _factories:
        return _build(name)
    raise InvalidClaim(f"unknown claim {name!r}; known claims: {', '.join(names())}")


def registry() -> dict[str, Claim]:
    """All registered claims by name (lazy ones are built), in name order."""
    return {n: get(n) for n in names()}
