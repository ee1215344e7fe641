"""Progress for long work (verification, claim searches, proofs, figure builds, sweeps).

One function, `progress`, wraps an iterable in a tqdm bar with an ETA. The bar is drawn on
stderr only when stderr is a terminal (never in CI logs, pipes or tests) unless forced with
`THEORY_KIT_PROGRESS=1`; `THEORY_KIT_PROGRESS=0` turns it off everywhere. Work shorter than
`min_seconds` never shows a bar (tqdm's `delay`), so quick calls stay silent.

    from theory_kit.progress import progress
    for xs in progress(inputs, total=n, desc="verify"):
        ...
"""

from __future__ import annotations

import os
import itertools
import sys
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

#: Environment switch: "1" forces bars on, "0" forces them off, unset follows stderr.isatty().
ENV = "THEORY_KIT_PROGRESS"


def enabled() -> bool:
    """Whether bars are drawn: the THEORY_KIT_PROGRESS switch, else whether stderr is a TTY."""
    flag = os.environ.get(ENV, "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stderr
        return False


def progress(iterable: Iterable[T], *, total: Optional[int] = None, desc: str = "",
             unit: str = "it", min_seconds: float = 0.5,
             show: Optional[bool] = None) -> Iterator[T]:
    """Iterate `iterable`, showing a bar with count, rate and ETA on stderr when enabled.

    `total` (when the iterable has no len) gives the ETA; `show` overrides `enabled()`.
    Without tqdm installed, or when disabled, this is the iterable itself (no overhead)."""
    if not (enabled() if show is None else show):
        yield from iterable
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a core dependency; tolerate an environment without it
        yield from iterable
        return
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = tqdm(iterable, total=total, desc=desc or None, unit=unit, delay=min_seconds,
               file=sys.stderr, dynamic_ncols=True, leave=False)
    try:
        yield from bar
    finally:
        bar.close()


def chunks(iterable: Iterable[T], size: int, *, total: Optional[int] = None, desc: str = "",
           unit: str = "it") -> Iterator[list]:
    """`iterable` in lists of at most `size` items, with one `progress` bar over the items
    (closed when the caller stops or raises): the streaming loop of every verification."""
    bar = progress(iter(iterable), total=total, desc=desc, unit=unit)
    try:
        while True:
            block = list(itertools.islice(bar, size))
            if not block:
                return
            yield block
    finally:
        bar.close()
