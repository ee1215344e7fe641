"""Thread settings of the benchmarks: import this before numpy.

Default: one thread for numpy's BLAS and for XLA, so both systems are measured per core. On a
shared 2-core machine a multithreaded BLAS whose second thread is descheduled by another
process makes small matmuls several times slower (measured: run_batch 2.6x slower on the
smallest models), which would make the numbers a measure of the neighbours' load.
`--threads 0` keeps each library's default instead.
"""

from __future__ import annotations

import os
import sys

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def threads_from_argv(argv: list[str], default: int = 1) -> int:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return default


def apply(threads: int) -> dict:
    """Set the BLAS thread variables for this process (before numpy is imported) and return
    the environment additions for a JAX subprocess."""
    if "numpy" in sys.modules and threads > 0:
        raise RuntimeError("benchmarks/_threads.py must be imported before numpy")
    if threads <= 0:
        return {}
    for var in BLAS_VARS:
        os.environ[var] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        return {"XLA_FLAGS": f"{flags} {XLA_SINGLE_THREAD}".strip()}
    return {}


THREADS = threads_from_argv(sys.argv)
WORKER_ENV = apply(THREADS)
