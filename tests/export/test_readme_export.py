"""Every ```py block of README.md (the examples that need theory_kit[export]) runs as written."""

from __future__ import annotations

import re

import pytest

from tests.test_readme import README

BLOCKS = re.findall(r"```py\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::UserWarning")


def test_the_readme_has_an_export_example():
    assert BLOCKS and "to_transformer_lens" in BLOCKS[0]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_export_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md py block {index}", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out
