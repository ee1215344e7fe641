"""The shared figure style and the crash-safe, byte-reproducible way figures are written.

Every figures/fig_<name>.py script builds a `matplotlib.figure.Figure` with `new_figure`, then
hands it and the plotted data to `save_figure`, which writes `<name>.pdf`, `<name>.png` and
`<name>.csv` (plus any extra named tables) so that:

* the PDF and PNG are byte-identical across runs (fixed metadata, no creation date, fixed SVG
  hash salt, TrueType fonts embedded the same way every time);
* a file in the output folder is always complete: everything is written into a private staging
  folder first and moved into place with `os.replace` (atomic on POSIX) only once all outputs
  of the figure exist. A killed process leaves at most a staging folder behind, never a
  half-written file next to the finished ones. The staging folder is on the output folder's
  filesystem (in the build cache when that is, else hidden inside the output folder), and a
  rename that still crosses a mount (EXDEV: bind mounts share a device number) falls back to a
  copy next to the destination, so the final step is always a same-folder `os.replace`.

The style is sized for a two-column paper (single column 3.25 in, full width 6.75 in, 8 pt
text) with the Okabe–Ito colour-blind-safe palette. It lives in `theory_kit/theory_kit.mplstyle`
(`STYLE_FILE`, shipped as package data) and is applied with `matplotlib.style.context` — by
`style()`, around everything `new_figure`, `save_figure` and `run_cli` (a figure script's whole
run) do — never globally: importing this module leaves `matplotlib.rcParams` untouched. Use it
in your own code with `with plotting.style(): ...`. pyplot is never used: figures are plain
`Figure` objects, so no global figure state leaks between scripts, and saving picks the
renderer from the file format (agg for PNG, matplotlib's PDF backend), whatever the
environment's interactive backend.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure

from theory_kit import paths

__all__ = [
    "OKABE_ITO",
    "SINGLE_COLUMN_IN",
    "DOUBLE_COLUMN_IN",
    "STYLE",
    "STYLE_FILE",
    "style",
    "apply_style",
    "new_figure",
    "width_axes",
    "save_figure",
    "atomic_outputs",
    "format_number",
    "run_cli",
]

# Okabe & Ito (2008), "Color Universal Design": distinguishable under all common colour-vision
# deficiencies. Black is last so it can be reserved for bounds/reference curves.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
_CYCLE = ["blue", "vermillion", "bluish_green", "orange", "reddish_purple", "sky_blue", "yellow"]

SINGLE_COLUMN_IN = 3.25
DOUBLE_COLUMN_IN = 6.75
_GOLDEN = (1 + 5**0.5) / 2

# Metadata fixed so outputs do not depend on the date, host or matplotlib patch version.
_PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": "theory_kit", "Creator": None}
_PNG_METADATA = {"Software": "theory_kit"}
PNG_DPI = 300

#: The figure style as a matplotlib style file (package data).
STYLE_FILE: Path = Path(__file__).resolve().parent / "theory_kit.mplstyle"

#: The style's settings, read from STYLE_FILE (a plain dict; nothing global is changed).
STYLE: dict[str, object] = dict(
    matplotlib.rc_params_from_file(str(STYLE_FILE), use_default_template=False))


@contextlib.contextmanager
def style():
    """Context manager: the theory_kit style (STYLE_FILE) and a pinned SOURCE_DATE_EPOCH for
    the duration of the block; both are restored afterwards.

    Artists take most settings when they are created and the savers read theirs when a file
    is written, so plot *and* save inside the block (`run_cli` wraps a figure script's whole
    `main`; `new_figure` and `save_figure` enter it themselves).
    """
    had = "SOURCE_DATE_EPOCH" in os.environ
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    try:
        with matplotlib.style.context(str(STYLE_FILE)):
            yield
    finally:
        if not had:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        elif old is not None:
            os.environ["SOURCE_DATE_EPOCH"] = old


def apply_style() -> None:
    """Set the style globally (matplotlib.rcParams) and pin SOURCE_DATE_EPOCH.

    Prefer `style()`: this changes process-wide state and is kept for interactive sessions
    and older scripts; nothing in theory_kit calls it.
    """
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    matplotlib.style.use(str(STYLE_FILE))


def new_figure(
    *,
    width: str | float = "single",
    height: float | None = None,
    nrows: int = 1,
    ncols: int = 1,
    **subplots_kw,
) -> tuple[Figure, object]:
    """Create a styled figure and its axes without touching pyplot.

    Args:
        width: "single" (3.25 in), "double" (6.75 in) or a width in inches.
        height: height in inches; default width / golden ratio (times rows, capped for panels).
        nrows, ncols, subplots_kw: forwarded to `Figure.subplots`.

    Returns:
        (figure, axes) as `Figure.subplots` returns them.
    """
    w = {"single": SINGLE_COLUMN_IN, "double": DOUBLE_COLUMN_IN}.get(width, width)
    if not isinstance(w, (int, float)):
        raise ValueError(f"width must be 'single', 'double' or inches, got {width!r}")
    if height is None:
        height = min(w / _GOLDEN * nrows / max(1, ncols) * (1.0 if ncols == 1 else 1.6), 8.0)
    with style():
        fig = Figure(figsize=(float(w), float(height)))
        axes = fig.subplots(nrows, ncols, **subplots_kw)
    return fig, axes


def width_axes(ax, widths, ylim) -> None:
    """Log-log axes over network widths (powers of two, each width a labelled tick) and a
    relative gap: the layout of the trained-versus-certified landscape figures."""
    widths = [float(w) for w in widths]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(widths)
    ax.set_xticklabels([str(int(w)) for w in widths])
    ax.set_xlim(widths[0] / 1.5, widths[-1] * 1.5)
    ax.set_ylim(*ylim)
    ax.set_xlabel("width $M$ of the trained network")


def format_number(x) -> str:
    """A deterministic, round-trippable text form of a CSV cell."""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, int):
        return str(x)
    try:
        import numpy as np

        if isinstance(x, np.integer):
            return str(int(x))
        if isinstance(x, np.bool_):
            return "1" if bool(x) else "0"
        if isinstance(x, np.floating):
            x = float(x)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    return str(x)


Table = tuple[Sequence[str], Iterable[Sequence[object]]]


# Prefix of the hidden staging folders made inside an output folder (figures/build.py removes
# those of dead processes; it parses "<prefix><figure>-<pid>-<random>").
OUT_STAGING_PREFIX = ".staging-"


def _new_stage(target_dir: Path, name: str) -> Path:
    """A fresh private staging folder from which os.replace into `target_dir` can work.

    The build cache's staging/ folder when it is on `target_dir`'s filesystem (so a killed
    worker leaves nothing in the output folder), else a hidden folder inside `target_dir` itself:
    never a sibling, which is on another filesystem when `target_dir` is a mount point.
    """
    staging = paths.figures_cache_dir() / "staging"
    try:
        staging.mkdir(parents=True, exist_ok=True)
        if os.stat(staging).st_dev == os.stat(target_dir).st_dev:
            return Path(tempfile.mkdtemp(prefix=f"{name}-{os.getpid()}-", dir=staging))
    except OSError:  # no usable cache (read-only, a file in the way, ...)
        pass
    return _local_stage(target_dir, name)


def _local_stage(target_dir: Path, name: str) -> Path:
    """A hidden staging folder inside `target_dir`: renames from it never cross a mount."""
    return Path(tempfile.mkdtemp(prefix=f"{OUT_STAGING_PREFIX}{name}-{os.getpid()}-",
                                 dir=target_dir))


class atomic_outputs:
    """Context manager: a private staging folder whose files are moved into `out_dir` on success.

    >>> with atomic_outputs(out_dir, "fig_x") as stage:
    ...     (stage / "fig_x.csv").write_text("a,b\\n")
    ...     # on normal exit every file in `stage` is os.replace'd into out_dir; on error or
    ...     # interruption nothing is moved and the staging folder is removed.

    `final` holds the resulting paths (in out_dir) after the block exits normally.
    """

    def __init__(self, out_dir: Path, name: str):
        self.out_dir = Path(out_dir)
        self.name = name
        self.final: list[Path] = []
        self._stage: Path | None = None

    def __enter__(self) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._stage = _new_stage(self.out_dir, self.name)
        return self._stage

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self._stage is not None
        stages = [self._stage]
        try:
            if exc_type is None:
                # Data files first, the PDF last: a reader polling for the PDF sees the rest.
                files = sorted(
                    (p for p in self._stage.iterdir() if p.is_file()),
                    key=lambda p: (p.suffix == ".pdf", p.name),
                )
                local = None
                for src in files:
                    dst = self.out_dir / src.name
                    try:
                        os.replace(src, dst)
                    except OSError as err:
                        if err.errno != errno.EXDEV:
                            raise
                        # The stage is on another mount after all (same st_dev, e.g. a bind
                        # mount): copy next to the destination, then rename from there.
                        if local is None:
                            local = _local_stage(self.out_dir, self.name)
                            stages.append(local)
                        shutil.copyfile(src, local / src.name)
                        os.replace(local / src.name, dst)
                    self.final.append(dst)
        finally:
            for stage in stages:
                shutil.rmtree(stage, ignore_errors=True)
        return False


def _write_csv(path: Path, table: Table) -> None:
    header, rows = table
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"{path.name}: row {row!r} has {len(row)} cells, header has {len(header)}")
        writer.writerow([format_number(v) for v in row])
    path.write_text(buf.getvalue(), encoding="utf-8")


def save_figure(
    fig: Figure,
    name: str,
    out_dir: Path | str | None,
    *,
    data: Table | Mapping[str, Table],
) -> list[Path]:
    """Write `<name>.pdf`, `<name>.png` and the plotted data as CSV, atomically, into out_dir.

    Args:
        fig: the figure.
        name: file stem, e.g. "fig_softmax_hardmax".
        out_dir: destination folder; None means `paths.figures_out_dir()`.
        data: one (header, rows) table written as `<name>.csv`, or a mapping
            {suffix: table} written as `<name>_<suffix>.csv` (suffix "" gives `<name>.csv`).

    Returns:
        The written paths, all complete and in place.
    """
    out = Path(out_dir) if out_dir is not None else paths.figures_out_dir()
    tables = {"": data} if isinstance(data, tuple) else dict(data)
    writer = atomic_outputs(out, name)
    with style(), writer as stage:
        for suffix, table in tables.items():
            stem = f"{name}_{suffix}" if suffix else name
            _write_csv(stage / f"{stem}.csv", table)
        fig.savefig(stage / f"{name}.png", format="png", dpi=PNG_DPI, metadata=_PNG_METADATA)
        fig.savefig(stage / f"{name}.pdf", format="pdf", metadata=_PDF_METADATA)
    return sorted(writer.final)


def run_cli(main: Callable[..., list[Path]], argv: Sequence[str] | None = None) -> int:
    """The `if __name__ == "__main__"` body shared by every figure script.

    Flags: --out-dir (default paths.figures_out_dir()), --seed (default 0), --manifest PATH
    (figures/build.py reads it: the JSON list of written files, written only after all of them
    are in place).
    """
    parser = argparse.ArgumentParser(description=(main.__module__ or "figure") + " figure script")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", type=Path, default=None)
    args = parser.parse_args(argv)
    with style():
        written = main(out_dir=args.out_dir, seed=args.seed)
    if args.manifest is not None:
        tmp = args.manifest.with_name(args.manifest.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps([str(p) for p in written]), encoding="utf-8")
        os.replace(tmp, args.manifest)
    for p in written:
        print(p)
    return 0
