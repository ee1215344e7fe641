"""Tracr's README example, compile step included, runs with only its import lines changed."""

TRACR_README_EXAMPLE = '''
from tracr.rasp import rasp
from tracr.compiler import compiling

def make_length():
  all_true_selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
  return rasp.SelectorWidth(all_true_selector)

length = make_length()  # `length` is not a primitive in our implementation.
opp_index = length - rasp.indices - 1
flip = rasp.Select(rasp.indices, opp_index, rasp.Comparison.EQ)
reverse = rasp.Aggregate(flip, rasp.tokens)

program = make_length()
model = compiling.compile_rasp_to_model(
    program=reverse,
    vocab={1, 2, 3},
    max_seq_len=5,
    compiler_bos="BOS",
)
out = model.apply(["BOS", 1, 2, 3])
'''


def test_tracr_readme_example_runs_with_only_imports_changed():
    ported = (TRACR_README_EXAMPLE
              .replace("from tracr.rasp import rasp", "from theory_kit import rasp")
              .replace("from tracr.compiler import compiling", "from theory_kit.compat import compiling"))
    assert ported.count("\n") == TRACR_README_EXAMPLE.count("\n")
    namespace: dict = {}
    exec(compile(ported, "tracr_readme_example", "exec"), namespace)
    assert namespace["out"].decoded == ["BOS", 3, 2, 1]
    assert namespace["model"].apply(["BOS", 2, 2, 1, 3, 1]).decoded == ["BOS", 1, 3, 1, 2, 2]
