"""Fixtures of the figure-build tests."""

import pytest


@pytest.fixture
def dirs(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    return out, cache
