"""Every compiler mismatch the generator ever found stays fixed."""

from __future__ import annotations

import pytest

from tests.testing.regressions import CASES
from theory_kit import rasp
from theory_kit.testing import assert_compiles_correctly


@pytest.mark.parametrize("name, factory, vocab, max_seq_len, causal", CASES,
                         ids=[c[0] for c in CASES])
def test_regression_case_compiles_correctly(name, factory, vocab, max_seq_len, causal):
    program = factory()
    assert rasp.validate(program, vocab, max_seq_len) == []
    assert_compiles_correctly(program, vocab=vocab, max_seq_len=max_seq_len, causal=causal)
