"""A Tracr program ports to theory_kit by changing only its import lines.

The sources below are verbatim from Tracr (google-deepmind/tracr, Apache-2.0, (c) DeepMind):
the README's `reverse` example and functions of tracr/compiler/lib.py, in Tracr's 2-space style.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from theory_kit import library, rasp

IMPORT_REPLACEMENTS = {
    "from tracr.rasp import rasp": "from theory_kit import rasp",
    "from tracr.compiler import lib": "from theory_kit import library as lib",
}

# README, "Usage example: RASP `reverse` program": the program block, then the block that
# follows "Where:", which defines make_length.
README_REVERSE = """\
from tracr.rasp import rasp

length = make_length()  # `length` is not a primitive in our implementation.
opp_index = length - rasp.indices - 1
flip = rasp.Select(rasp.indices, opp_index, rasp.Comparison.EQ)
reverse = rasp.Aggregate(flip, rasp.tokens)
"""

README_MAKE_LENGTH = """\
def make_length():
  all_true_selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
  return rasp.SelectorWidth(all_true_selector)
"""

# tracr/compiler/lib.py (docstrings shortened to their first line), kept as data: it is
# third-party source under test, not code of this repository.
TRACR_LIB_FUNCTIONS = (Path(__file__).resolve().parents[1] / "data" / "tracr_lib_excerpt.py.txt"
                       ).read_text(encoding="utf-8")

# A user script built on Tracr's library (the usage lines of lib.py's docstrings).
TRACR_LIB_USER = """\
from tracr.compiler import lib
from tracr.rasp import rasp

num_l = lib.make_frac_prevs(rasp.tokens == "l")
frac_l = num_l("hello")
reverse = lib.make_reverse(rasp.tokens)
reversed_hello = reverse("Hello")
shuffle_dyck2 = lib.make_shuffle_dyck(pairs=["()", "{}"])
balanced = shuffle_dyck2("({)}")
count_less_freq = lib.make_count_less_freq(2)
counted = count_less_freq(["a", "a", "a", "b", "b", "c"])
sort = lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)
sorted_tokens = sort([2, 4, 1, 2])
"""


def port(source: str) -> str:
    """Replace Tracr's import lines, and nothing else; refuse sources that still use Tracr."""
    lines = [IMPORT_REPLACEMENTS.get(line.strip(), line) for line in source.splitlines()]
    ported = "\n".join(lines) + "\n"
    assert "tracr" not in ported, "the source uses a Tracr module that has no replacement"
    changed = [line for line in difflib.ndiff(source.splitlines(), ported.splitlines())
               if line.startswith(("- ", "+ "))]
    assert all(line[2:].strip() in {*IMPORT_REPLACEMENTS, *IMPORT_REPLACEMENTS.values()}
               for line in changed)
    return ported


def test_readme_reverse_runs_unchanged_except_imports():
    ported = port(README_REVERSE)
    import_line, _, body = ported.partition("\n")
    namespace: dict = {}
    # As a reader assembles the README: the import, the "Where:" definition, the program.
    exec(import_line, namespace)
    exec(port(README_MAKE_LENGTH), namespace)
    exec(body, namespace)
    reverse = namespace["reverse"]
    assert namespace["rasp"] is rasp
    # The README shows the compiled model decoding ["BOS", 3, 2, 1] for [BOS, 1, 2, 3].
    assert rasp.evaluate(reverse, [1, 2, 3]) == [3, 2, 1]
    assert reverse([1, 2, 3]) == [3, 2, 1]
    assert namespace["length"]([1, 2, 3, 4]) == [4, 4, 4, 4]
    assert rasp.validate(reverse, {1, 2, 3}, 5) == []


def test_tracr_lib_source_runs_unchanged_except_imports_and_matches_our_library():
    namespace: dict = {}
    exec(port(TRACR_LIB_FUNCTIONS), namespace)
    theirs = {
        "frac_prevs": namespace["make_frac_prevs"](rasp.tokens == "a"),
        "pair_balance": namespace["make_pair_balance"](rasp.tokens, "(", ")"),
        "hist": namespace["make_hist"](),
        "sort_unique": namespace["make_sort_unique"](rasp.tokens, rasp.tokens),
        "sort": namespace["make_sort"](rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1),
        "shift_by": namespace["shift_by"](1, rasp.tokens),
        "detect_pattern": namespace["detect_pattern"](rasp.tokens, "abc"),
        "nary_sequencemap": namespace["make_nary_sequencemap"](
            lambda t, i, n: t + i < n, rasp.tokens, rasp.indices, library.length),
    }
    for name, program in theirs.items():
        spec = library.PROGRAMS[name]
        inputs = list(spec.inputs())
        assert rasp.evaluate_batch(program, inputs) == rasp.evaluate_batch(spec(), inputs), name
    with pytest.raises(ValueError, match="Length of `pattern` must be at least 1"):
        namespace["detect_pattern"](rasp.tokens, "")


def test_a_script_using_tracr_lib_runs_unchanged_except_imports():
    namespace: dict = {}
    exec(port(TRACR_LIB_USER), namespace)
    assert namespace["lib"] is library
    assert namespace["frac_l"] == [0, 0, 1 / 3, 1 / 2, 2 / 5]
    assert namespace["reversed_hello"] == ["o", "l", "l", "e", "H"]
    assert namespace["balanced"] == [True] * 4
    assert namespace["counted"] == [3] * 6
    assert namespace["sorted_tokens"] == [1, 2, 2, 4]


def test_port_refuses_sources_with_other_tracr_imports():
    with pytest.raises(AssertionError, match="no replacement"):
        port("from tracr.compiler import compiling\n")
