"""The program generator exercises every node type (each in >= 5% of programs)."""

from __future__ import annotations

from theory_kit.testing.coverage import REQUIRED_FEATURES, generator_coverage


def test_every_node_type_appears_in_at_least_five_percent_of_programs():
    # Hypothesis starts with simple examples, so a few hundred draws under-represent the
    # numerical kinds; 600 is past that warm-up and still takes a few seconds.
    report = generator_coverage(600, seed=0)
    assert report.n_programs == 600
    assert report.missing(0.05) == [], report.format()
    assert set(REQUIRED_FEATURES) <= set(report.feature_fraction)
    # Both encodings at the output, and programs deeper than one step.
    assert 0.1 < report.numerical_output_fraction < 0.9, report.format()
    assert sum(f for d, f in report.depth_histogram.items() if d >= 2) > 0.2, report.format()


def test_every_comparison_is_generated():
    report = generator_coverage(1000, seed=1)
    for name in ("EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"):
        assert report.feature_fraction.get(f"Select[{name}]", 0) > 0, name
