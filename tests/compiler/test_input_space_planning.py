"""Verification planning at any max_seq_len (issue 21 item 3): the input-space size in closed
form and the sample plan without huge powers agree with their definitions."""

import pytest

from theory_kit.compiler.budget import MAX_EXHAUSTIVE_INPUTS, check_input_space
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.verify import input_space_size, sample_plan
from theory_kit.errors import InvalidInput


@pytest.mark.parametrize("v", [1, 2, 3, 7])
@pytest.mark.parametrize("min_len", [0, 1, 2])
def test_input_space_size_is_the_sum(v, min_len):
    for n in range(0, 9):
        assert input_space_size(v, n, min_len) == sum(v ** k for k in range(min_len, n + 1))


def test_input_space_size_at_a_huge_max_seq_len():
    size = input_space_size(3, 100_000)
    assert size % 3 == 0 and size.bit_length() == (3 ** 100_001 // 2).bit_length()


@pytest.mark.parametrize("v,n,count", [(1, 5, 3), (2, 6, 40), (3, 9, 2000), (4, 3, 10_000)])
def test_sample_plan_takes_whole_short_lengths_then_shares(v, n, count):
    plan = sample_plan(v, n, count)
    budget = count
    for length, take in enumerate(plan, start=1):
        share = -(-budget // (n - length + 1))
        assert take == min(v ** length, share)
        budget -= take
    assert sum(plan) == min(count, input_space_size(v, n))


def test_exhaustive_refusal_names_the_longest_max_seq_len_that_fits():
    config = CompileConfig(vocab=set(range(10)), max_seq_len=9, verify="exhaustive")
    fits = max(m for m in range(1, 10) if input_space_size(10, m) <= MAX_EXHAUSTIVE_INPUTS)
    with pytest.raises(InvalidInput, match=f"lower max_seq_len to {fits} "):
        check_input_space(config, input_space_size(10, 9), True)
