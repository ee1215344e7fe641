"""What the program generator generates: node-type frequencies and depth over many draws."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from theory_kit.rasp import nodes as n
from theory_kit.rasp.loops import Loop, LoopVar
from theory_kit.rasp.tree import topological_order
from theory_kit.testing.functions import NamedFunction

__all__ = ["node_features", "program_depth", "CoverageReport", "generator_coverage",
           "draw_programs", "REQUIRED_FEATURES", "FEATURES"]

#: Features every generator run must exercise (each in >= 5% of programs).
REQUIRED_FEATURES = (
    "tokens", "indices", "length", "Map[cat->cat]", "Map[cat->num]", "Map[num->num]",
    "Map[num->cat]", "SequenceMap", "LinearSequenceMap", "Full", "Select",
    "Select[comparison]", "Select[custom]", "Aggregate[categorical]", "Aggregate[numerical]",
    "SelectorWidth", "SelectorAnd", "SelectorOr", "SelectorNot",
)


def _class_name(node: n.RASPExpr) -> tuple[str, ...]:
    return (type(node).__name__,)


def _map_features(node: n.Map) -> tuple[str, ...]:
    src = "num" if n.is_numerical(node.inner) else "cat"
    dst = "num" if n.is_numerical(node) else "cat"
    return (f"Map[{src}->{dst}]",)


def _select_features(node: n.Select) -> tuple[str, ...]:
    pred = node.predicate
    if isinstance(pred, n.Comparison):
        return ("Select", "Select[comparison]", f"Select[{pred.name}]")
    name = pred.name if isinstance(pred, NamedFunction) else "lambda"
    return ("Select", "Select[custom]", f"Select[{name}]")


def _aggregate_features(node: n.Aggregate) -> tuple[str, ...]:
    return ("Aggregate[numerical]" if n.is_numerical(node) else "Aggregate[categorical]",)


#: The features each node class contributes. A subclass of a node class uses its nearest
#: base's rule; a class with none contributes its class name.
FEATURES: Mapping[type, Callable[[Any], tuple[str, ...]]] = MappingProxyType({
    n.TokensType: lambda node: ("tokens",), n.IndicesType: lambda node: ("indices",),
    n.LengthType: lambda node: ("length",), n.Map: _map_features,
    n.SequenceMap: lambda node: ("SequenceMap",),
    n.LinearSequenceMap: lambda node: ("LinearSequenceMap",), n.Full: _class_name,
    n.ConstantSOp: _class_name, n.Select: _select_features,
    n.ConstantSelector: _class_name, n.Aggregate: _aggregate_features,
    n.SelectorWidth: _class_name, n.SelectorAnd: _class_name, n.SelectorOr: _class_name,
    n.SelectorNot: _class_name, Loop: _class_name, LoopVar: _class_name,
})


def node_features(program: n.RASPExpr) -> set[str]:
    """The set of node features a program uses (see REQUIRED_FEATURES), plus one
    `Select[<predicate>]` entry per predicate."""
    features: set[str] = set()
    for node in topological_order(program):
        rule = next((FEATURES[c] for c in type(node).__mro__ if c in FEATURES), _class_name)
        features.update(rule(node))
    return features


def program_depth(program: n.RASPExpr) -> int:
    """Longest chain of SOps from a primitive (depth 0) to the output; selectors add nothing."""
    depth: dict[int, int] = {}
    for node in topological_order(program):
        below = max((depth[id(c)] for c in node.children), default=0)
        if isinstance(node, n.Selector) or not node.children:
            depth[id(node)] = below
        else:
            depth[id(node)] = below + 1
    return depth[id(program)]


@dataclass(frozen=True)
class CoverageReport:
    """Fractions of programs using each feature, the depth histogram, output encodings."""

    n_programs: int
    feature_fraction: dict
    depth_histogram: dict
    numerical_output_fraction: float
    node_count_histogram: dict

    def missing(self, threshold: float = 0.05) -> list[str]:
        """Required features used by fewer than `threshold` of the programs."""
        return [f for f in REQUIRED_FEATURES if self.feature_fraction.get(f, 0.0) < threshold]

    def format(self) -> str:
        lines = [f"programs drawn: {self.n_programs}", "", "feature                      fraction"]
        for name in sorted(self.feature_fraction, key=lambda k: (k not in REQUIRED_FEATURES, k)):
            mark = "" if name in REQUIRED_FEATURES else "   (detail)"
            lines.append(f"  {name:<27}{self.feature_fraction[name]:8.3f}{mark}")
        lines += ["", "depth   fraction"]
        lines += [f"  {d:<6}{f:8.3f}" for d, f in sorted(self.depth_histogram.items())]
        lines += ["", "nodes   fraction"]
        lines += [f"  {d:<6}{f:8.3f}" for d, f in sorted(self.node_count_histogram.items())]
        lines += ["", f"numerical output: {self.numerical_output_fraction:.3f}   "
                  f"categorical output: {1 - self.numerical_output_fraction:.3f}"]
        missing = self.missing()
        lines.append("features below 5%: " + (", ".join(missing) if missing else "none"))
        return "\n".join(lines)


def draw_programs(n_programs: int, *, seed: int = 0, max_seq_len: Iterable[int] = (3, 4),
                  vocab_sizes: tuple = (2, 3), **program_kwargs: Any) -> list[tuple]:
    """Draw `n_programs` (vocab, max_seq_len, program) triples deterministically.

    Uses hypothesis' generation phase only (no shrinking), seeded by `seed`.
    """
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
    from hypothesis import strategies as st

    from theory_kit.testing.strategies import programs, vocabularies

    lengths = tuple(max_seq_len)
    out: list[tuple] = []

    @hseed(seed)
    @settings(max_examples=n_programs, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data):
        vocab = data.draw(vocabularies(min_size=min(vocab_sizes), max_size=max(vocab_sizes),
                                       kinds=("int",)))
        length = data.draw(st.sampled_from(lengths))
        out.append((vocab, length, data.draw(programs(vocab=vocab, max_seq_len=length,
                                                      **program_kwargs))))

    collect()
    return out


def generator_coverage(n_programs: int = 1000, *, seed: int = 0, **kwargs: Any) -> CoverageReport:
    """Coverage of the program generator over `n_programs` deterministic draws."""
    drawn = draw_programs(n_programs, seed=seed, **kwargs)
    features: Counter = Counter()
    depths: Counter = Counter()
    sizes: Counter = Counter()
    numerical = 0
    for _, _, program in drawn:
        features.update(node_features(program))
        depths[program_depth(program)] += 1
        sizes[sum(isinstance(x, n.SOp) for x in topological_order(program))] += 1
        numerical += n.is_numerical(program)
    total = max(len(drawn), 1)
    return CoverageReport(
        n_programs=len(drawn),
        feature_fraction={k: v / total for k, v in features.items()},
        depth_histogram={k: v / total for k, v in depths.items()},
        numerical_output_fraction=numerical / total,
        node_count_histogram={k: v / total for k, v in sizes.items()},
    )
