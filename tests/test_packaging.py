"""Packaging and conventions (issue 22 item 7): LICENSE, py.typed, CITATION.cff, the figure style
file applied without global side effects, files written with the user's umask, one LaTeX helper."""

from __future__ import annotations

import configparser
import hashlib
import math
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import theory_kit

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "theory_kit"


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "setup.cfg")
    return cfg


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip()]


# -- LICENSE, py.typed, CITATION.cff -------------------------------------------------------------


def test_license_is_the_apache_2_text_setup_cfg_names():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    # The unmodified text as distributed at https://www.apache.org/licenses/LICENSE-2.0.txt.
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30")
    cfg = _setup_cfg()
    assert cfg["metadata"]["license"] == "Apache-2.0"
    assert _lines(cfg["metadata"]["license_files"]) == ["LICENSE"]


def test_the_package_is_marked_typed_and_ships_its_data():
    assert (PACKAGE / "py.typed").is_file()
    data = _lines(_setup_cfg()["options.package_data"]["theory_kit"])
    assert set(data) >= {"py.typed", "theory_kit.mplstyle"}
    for name in data:
        assert (PACKAGE / name).is_file(), name


def test_citation_cff_has_the_required_fields_and_the_package_version():
    text = (REPO / "CITATION.cff").read_text(encoding="utf-8")
    fields = dict(re.findall(r"^([a-z-]+):\s*(.*)$", text, flags=re.M))
    assert fields["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "license"):
        assert key in fields, key
    assert fields["version"] == theory_kit.__version__
    assert fields["license"] == _setup_cfg()["metadata"]["license"]
    assert re.search(r"^authors:\n  - (name|family-names): \S", text, flags=re.M)


# -- the figure style --------------------------------------------------------------------------

_RCPARAMS_PROBE = """
import os, matplotlib
before = {k: repr(v) for k, v in matplotlib.rcParams.items()}
backend = matplotlib.get_backend()
env = os.environ.get("SOURCE_DATE_EPOCH")
import theory_kit.plotting as plotting
after = {k: repr(v) for k, v in matplotlib.rcParams.items()}
print(sorted(k for k in before if before[k] != after[k]))
fig, ax = plotting.new_figure()
after_figure = {k: repr(v) for k, v in matplotlib.rcParams.items()}
print(sorted(k for k in before if before[k] != after_figure[k]))
print(matplotlib.get_backend() == backend, os.environ.get("SOURCE_DATE_EPOCH") == env)
"""


def test_importing_plotting_leaves_matplotlib_rcparams_unchanged():
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "SOURCE_DATE_EPOCH")}
    done = subprocess.run([sys.executable, "-c", _RCPARAMS_PROBE], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "[]", "True True"]


def test_the_style_is_a_style_file_applied_only_inside_the_context():
    import matplotlib

    from theory_kit import plotting

    assert plotting.STYLE_FILE == PACKAGE / "theory_kit.mplstyle"
    assert plotting.STYLE["font.size"] == 8 and plotting.STYLE["lines.linewidth"] == 1.2
    before = dict(matplotlib.rcParams)
    with plotting.style():
        assert matplotlib.rcParams["font.size"] == 8
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]][:2] == [
            plotting.OKABE_ITO["blue"], plotting.OKABE_ITO["vermillion"]]
    assert dict(matplotlib.rcParams) == before


def test_new_figure_is_styled_without_changing_rcparams():
    import matplotlib

    from theory_kit import plotting

    before = dict(matplotlib.rcParams)
    fig, ax = plotting.new_figure()
    assert fig.get_layout_engine() is not None  # constrained layout from the style
    assert not ax.spines["top"].get_visible()
    assert dict(matplotlib.rcParams) == before


# -- files written with the user's umask --------------------------------------------------------

_UMASK_PROBE = """
import os, sys
os.umask(int(sys.argv[1], 8))
from theory_kit import paths
target = sys.argv[2]
paths.write_atomic(target, "x\\n")
print(oct(os.stat(target).st_mode & 0o777), oct(paths.current_umask()), oct(os.umask(0)))
"""


@pytest.mark.parametrize("umask,mode", [("022", "0o644"), ("077", "0o600"), ("002", "0o664")])
def test_write_atomic_creates_files_with_the_users_umask(tmp_path, umask, mode):
    target = tmp_path / "generated" / "table.tex"
    done = subprocess.run([sys.executable, "-c", _UMASK_PROBE, umask, str(target)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    # the file's mode, the umask as read, and the umask left in place (reading never changed it)
    assert done.stdout.split() == [mode, oct(int(umask, 8)), oct(int(umask, 8))]
    assert [p.name for p in target.parent.iterdir()] == ["table.tex"]


# -- one LaTeX helper ------------------------------------------------------------------------


def test_tex_camel_spells_digits_and_drops_separators():
    from theory_kit.tex import camel

    assert camel("float16") == "FloatOneSix"
    assert camel("softmax_gap-2x") == "SoftmaxGapTwoX"
    assert camel("beta_formula") == "BetaFormula"


@pytest.mark.parametrize("value,digits,expected", [
    (None, 6, "---"), (True, 6, "yes"), (np.bool_(False), 6, "no"), (12, 6, "12"),
    (np.int64(7), 6, "7"), (0.5, 6, "0.5"), (np.float32(0.25), 6, "0.25"),
    (1 / 3, 6, "0.333333"), (1 / 3, 4, "0.3333"), (Fraction(1, 4), 6, "0.25"),
    (1.5e-9, 6, r"\ensuremath{1.5\times 10^{-9}}"), (2.5e12, 3, r"\ensuremath{2.5\times 10^{12}}"),
    (math.inf, 6, r"\ensuremath{\infty}"), (-math.inf, 6, r"\ensuremath{-\infty}"),
    (math.nan, 6, "NaN"),
])
def test_tex_number_is_deterministic(value, digits, expected):
    from theory_kit.tex import tex_number

    assert tex_number(value, digits) == expected


def test_tex_number_refuses_non_numbers_and_bad_digits():
    from theory_kit.tex import tex_number

    with pytest.raises(TypeError, match="expected a number"):
        tex_number("1.5")
    with pytest.raises(ValueError, match="digits"):
        tex_number(1.5, 0)


def test_tex_escape():
    from theory_kit.tex import tex_escape

    assert tex_escape("a_b & 50% #1 $x$") == r"a\_b \& 50\% \#1 \$x\$"
