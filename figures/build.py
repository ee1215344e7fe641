"""`make figures`: build every figures/fig_<name>.py, in parallel, rebuilding only what changed.

A thin caller of theory_kit.paper.figures, the one figure build system (a paper project made by
`theory-kit init` runs the same code with its own folders): see that module for the cache key,
atomic outputs, the build lock, progress and exit codes. Here the defaults are this repository's
folders: scripts in figures/, outputs in figures/out (env THEORY_KIT_FIGURES_OUT), the cache in
figures/.cache (env THEORY_KIT_FIGURES_CACHE), workers running in the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from theory_kit import paths  # noqa: E402
from theory_kit.paper import figures as _figures  # noqa: E402
from theory_kit.paper.figures import (  # noqa: E402,F401  (re-exported for scripts and tests)
    CACHE_SCHEMA,
    declared_data_files,
    environment_fingerprint,
    figure_key,
    library_hash,
)

__all__ = ["build", "main", "figure_key", "declared_data_files", "environment_fingerprint",
           "library_hash", "CACHE_SCHEMA"]


def build(*, jobs: int, out_dir: Path, cache_dir: Path, seed: int = 0, force: bool = False,
          only: list[str] | None = None, scripts_dir: Path | None = None, stream=None) -> int:
    """theory_kit.paper.figures.build with this repository's scripts folder and root."""
    return _figures.build(scripts_dir or paths.FIGURES_DIR, jobs=jobs, out_dir=out_dir,
                          cache_dir=cache_dir, seed=seed, force=force, only=only,
                          root=paths.REPO_ROOT, stream=stream)


def main(argv: list[str] | None = None) -> int:
    return _figures.main(argv, scripts_dir=paths.FIGURES_DIR, out_dir=paths.figures_out_dir(),
                         cache_dir=paths.figures_cache_dir(), root=paths.REPO_ROOT,
                         prog="figures/build.py",
                         defaults_note=", env THEORY_KIT_FIGURES_OUT / THEORY_KIT_FIGURES_CACHE")


if __name__ == "__main__":
    raise SystemExit(main())
