"""The export tests need the extra theory_kit[export] (torch, transformer-lens, safetensors).

`make test` runs in the core environment and skips them (the extra is several GB); CI runs
them in its own environment with the extra (`make test-export`, which sets
THEORY_KIT_REQUIRE_EXPORT=1: a missing package is then a failure, not a skip).
"""

import importlib.util
import os

import pytest

MISSING = [m for m in ("torch", "transformer_lens", "safetensors")
           if importlib.util.find_spec(m) is None]
REQUIRED = os.environ.get("THEORY_KIT_REQUIRE_EXPORT") == "1"


def pytest_collection_modifyitems(config, items):
    if not MISSING:
        return
    if REQUIRED:
        raise pytest.UsageError(f"THEORY_KIT_REQUIRE_EXPORT=1 but {', '.join(MISSING)} "
                                f"not installed (pip install 'theory_kit[export]')")
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason=f"needs theory_kit[export]: {', '.join(MISSING)} not "
                                   f"installed")
    for item in items:
        if str(item.fspath).startswith(here) and "no_extra" not in item.keywords:
            item.add_marker(skip)
