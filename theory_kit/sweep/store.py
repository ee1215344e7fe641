"""A sweep's result store: one SQLite file per sweep folder, one committed row per finished cell.

Why SQLite (stdlib `sqlite3`) rather than Parquet: a sweep appends one row at a time, each of
which must be durable the moment it exists (a crash, Ctrl-C or a killed client must lose
nothing finished). SQLite in WAL mode with `synchronous=FULL` makes every cell its own
fsync'd transaction, a half-written row cannot exist, and restart is a primary-key lookup.
Parquet files are immutable: appending cell by cell means one file per cell or rewriting, and
it needs pyarrow (~100 MB) in the core install. Results are exported as a table (`load`), which
a user can write to Parquet if they want a columnar copy.

Layout of a store folder DIR:

    DIR/results.sqlite   tables `meta` (key, value) and `cells` (one row per finished cell)
    DIR/lock             held (flock) by the one sweep writing the store

Only the client writes the store (workers return results to it), so a store on a cluster's
shared file system is fine as long as it is used from one host at a time: SQLite's WAL mode
keeps its shared-memory index next to the file and does not support readers on other hosts
(run `theory-kit sweep status` where the sweep runs, or after it ended).

A row holds the cell key (canonical JSON of params and seed index), params (JSON), seed index,
seed, status ("ok" or "error"), result fields (JSON), the traceback of a failed cell, duration
(seconds inside the task function), host, theory_kit version, finish time, attempts (how many
times the cell was started, > 1 after a lost worker) and a sha256 of the row, checked when the
store is read: a corrupted or truncated file is reported (SweepStoreError naming the file),
never read as fewer results.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from theory_kit.errors import SweepStoreError
from theory_kit.sweep.grid import RESERVED, Cell

__all__ = ["Store", "FILENAME", "FORMAT"]

FILENAME = "results.sqlite"
LOCKNAME = "lock"
#: Written into `meta`; a store of another format is refused rather than misread.
FORMAT = "theory_kit.sweep/1"
_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, params TEXT NOT NULL, seed_index INTEGER NOT NULL,
    seed INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    result TEXT, error TEXT, duration REAL, host TEXT, version TEXT, finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 1, checksum TEXT NOT NULL);
"""
_COLUMNS = ("key", "params", "seed_index", "seed", "status", "result", "error", "duration",
            "host", "version", "finished_at", "attempts")


def _checksum(values: Sequence[Any]) -> str:
    text = json.dumps([None if v is None else str(v) for v in values], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    """The store in folder `root` (created with `create=True`).

    Raises:
        SweepStoreError: the folder or file is missing (create=False), the file is not an
            SQLite database, is truncated or corrupted, or is not a sweep store of this format.
    """

    def __init__(self, root, *, create: bool = False):
        self.root = Path(root)
        self.path = self.root / FILENAME
        self._lock_fh = None
        if not self.path.exists():
            if not create:
                raise SweepStoreError(f"{self.path}: no sweep store here (run the sweep first: "
                                      "`theory-kit sweep run SPEC`)", path=self.path)
            if self.root.exists() and not self.root.is_dir():
                raise SweepStoreError(f"{self.root}: the store must be a folder, this is a file",
                                      path=self.root)
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self._check_file()
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            check = self.db.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in check[:3]))
            self.db.executescript(_SCHEMA)
            fmt = self.meta().get("format")
            if fmt is None:
                self._set_meta(format=FORMAT)
            elif fmt != FORMAT:
                raise SweepStoreError(f"{self.path}: a store of format {fmt!r}, this "
                                      f"theory_kit reads {FORMAT!r}", path=self.path)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise self._corrupt(exc) from None

    # -- integrity -----------------------------------------------------------------------

    def _corrupt(self, why) -> SweepStoreError:
        return SweepStoreError(f"{self.path}: the sweep store is corrupted or truncated ({why}); "
                               "its results cannot be trusted: restore it from a copy or move it "
                               "away and rerun the sweep", path=self.path)

    def _check_file(self) -> None:
        """Header and size checks SQLite itself does lazily (a truncated file can open fine)."""
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
            size = self.path.stat().st_size
        except OSError as exc:
            raise SweepStoreError(f"{self.path}: cannot read the sweep store: {exc}",
                                  path=self.path) from None
        if size == 0:
            return  # created but never written (SQLite writes the header with the first table)
        if len(head) < 100 or not head.startswith(_HEADER):
            raise self._corrupt("not an SQLite database: bad header")
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(head[28:32], "big")
        valid = head[24:28] == head[92:96]  # the header page count is valid only then
        wal = self.path.with_name(self.path.name + "-wal")
        # a non-empty WAL (a crash during a checkpoint) may still hold the missing pages:
        # then SQLite replays it on open and quick_check judges the result
        pending_wal = wal.exists() and wal.stat().st_size > 0
        if valid and pages and not pending_wal and size < pages * page_size:
            raise self._corrupt(f"the file has {size} bytes, its header says "
                                f"{pages} pages of {page_size} = {pages * page_size}")

    # -- meta ----------------------------------------------------------------------------

    def meta(self) -> Dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def _set_meta(self, **values: Any) -> None:
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                [(k, json.dumps(v)) for k, v in values.items()])

    def begin_sweep(self, *, fn: str, cells: Sequence[Cell], engine: str) -> None:
        """Record what is being run; refuse a store written by another task function."""
        meta = self.meta()
        if meta.get("fn") not in (None, fn):
            raise SweepStoreError(f"{self.path}: this store holds results of {meta['fn']!r}, "
                                  f"not {fn!r}; use another store folder", path=self.path)
        self._set_meta(fn=fn, cells=[c.key for c in cells], engine=engine,
                       started_at=time.time(),
                       created_at=meta.get("created_at", time.time()))

    # -- lock ----------------------------------------------------------------------------

    def lock(self) -> None:
        """Hold the store's lock for this process (two sweeps never write the same store).

        Raises:
            SweepStoreError: another process holds it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (documented)
            return
        fh = open(self.root / LOCKNAME, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            who = fh.read().strip() or "another process"
            fh.close()
            raise SweepStoreError(f"{self.path}: the store is in use by {who}; wait for that "
                                  "sweep or stop it", path=self.path) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        fh.flush()
        self._lock_fh = fh

    # -- rows ----------------------------------------------------------------------------

    def _transaction(self):
        db = self.db

        class _T:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, kind, exc, tb):
                db.execute("COMMIT" if kind is None else "ROLLBACK")
                return False

        return _T()

    def record(self, cell: Cell, outcome: Dict[str, Any]) -> None:
        """Commit one finished cell (durable when this returns)."""
        values = (cell.key, json.dumps(cell.params, sort_keys=True), cell.seed_index, cell.seed,
                  outcome["status"], outcome.get("result"), outcome.get("error"),
                  outcome.get("duration"), outcome.get("host"), outcome.get("version"),
                  time.time(), int(outcome.get("attempts", 1)))
        with self._transaction():
            self.db.execute(f"INSERT OR REPLACE INTO cells ({', '.join(_COLUMNS)}, checksum) "
                            f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                            (*values, _checksum(values)))

    def finished(self, *, include_errors: bool = True) -> set:
        """Keys of the cells already recorded (failed ones too unless include_errors=False)."""
        query = "SELECT key FROM cells" + ("" if include_errors else " WHERE status = 'ok'")
        try:
            return {k for (k,) in self.db.execute(query)}
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def counts(self) -> Dict[str, int]:
        out = {"ok": 0, "error": 0}
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM cells GROUP BY status"):
            out[status] = n
        return out

    def rows(self, only: Optional[set] = None) -> List[Dict[str, Any]]:
        """Every recorded cell as a flat dict (params, seed_index, seed, status, result
        fields, error, duration, host, version, finished_at, attempts), in the order of the
        last sweep's grid (cells from earlier grids after them, by key); `only`: just the
        cells with these keys.

        Raises:
            SweepStoreError: a row fails its checksum or does not parse."""
        order = {k: i for i, k in enumerate(self.meta().get("cells", []))}
        try:
            raw = self.db.execute(f"SELECT {', '.join(_COLUMNS)}, checksum FROM cells").fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        raw.sort(key=lambda r: (order.get(r[0], len(order)), r[0]))
        out = []
        for row in raw:
            values, checksum = row[:-1], row[-1]
            if _checksum(values) != checksum:  # every row, also those not returned
                raise self._corrupt(f"cell {values[0]} fails its checksum")
            if only is not None and values[0] not in only:
                continue
            rec = dict(zip(_COLUMNS, values))
            try:
                params = json.loads(rec.pop("params"))
                text = rec.pop("result")
                result = json.loads(text) if text is not None else {}
            except (ValueError, TypeError) as exc:
                raise self._corrupt(f"cell {values[0]}: {exc}") from None
            rec.pop("key")
            flat = {**params, "seed_index": rec.pop("seed_index"), "seed": rec.pop("seed"),
                    "status": rec.pop("status")}
            flat.update({k: v for k, v in result.items() if k not in RESERVED})
            flat.update(rec)
            out.append(flat)
        return out

    # -- lifetime ------------------------------------------------------------------------

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self._close_quietly()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
