"""A dask-jobqueue config file gives a real dask_jobqueue cluster (issue 18 item 1): the README's
SLURM config renders a batch script with its partition, cores, memory, walltime, account and
prologue. No batch system is needed to render a script (no job is submitted).

Skipped without dask-jobqueue (in the extra theory_kit[sweep], which `make test` installs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from theory_kit import sweep
from theory_kit.errors import InvalidInput
from theory_kit.sweep.engines import jobqueue_cluster

dask_jobqueue = pytest.importorskip("dask_jobqueue")

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_slurm_config() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    slurm = [b for b in blocks if "jobqueue: slurm" in b]
    assert len(slurm) == 1, "README.md shows one ```yaml SLURM config"
    return slurm[0]


def test_the_readme_slurm_config_renders_its_partition_cores_memory_and_walltime(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text(readme_slurm_config())
    cluster = jobqueue_cluster(config, scale=False)
    try:
        assert type(cluster) is dask_jobqueue.SLURMCluster
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for expected in ("#SBATCH -p normal", "#SBATCH -A mygroup", "#SBATCH --cpus-per-task=8",
                     "#SBATCH --mem=15G", "#SBATCH -t 02:00:00",
                     "source ~/theory_kit/.venv/bin/activate"):
        assert expected in lines, (expected, script)
    # 8 single-threaded worker processes per job, 16 GB / 8 = 2 GB = 1.86 GiB each
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    for expected in ("--nworkers 8", "--nthreads 1", "--memory-limit 1.86GiB"):
        assert expected in worker, (expected, worker)
    scheduler = re.compile(r"tcp://[\d.]+:\d+")  # each cluster has its own scheduler port
    assert scheduler.sub("SCHEDULER", sweep.job_script(config)) == scheduler.sub("SCHEDULER", script)


def test_pbs_from_json_and_cluster_arguments_the_class_refuses(tmp_path):
    config = tmp_path / "pbs.json"
    config.write_text(json.dumps({"jobqueue": "pbs", "cluster": {
        "cores": 4, "memory": "8GB", "walltime": "00:30:00", "queue": "short"}}))
    script = sweep.job_script(config)
    assert "#PBS -q short" in script and "#PBS -l walltime=00:30:00" in script
    assert "#PBS -l select=1:ncpus=4:mem=7GB" in script or "ncpus=4" in script, script
    missing = tmp_path / "missing.yaml"
    missing.write_text("jobqueue: slurm\ncluster: {queue: normal}\n")  # no cores, no memory
    with pytest.raises(InvalidInput, match=r"missing\.yaml: cluster: dask_jobqueue\.SLURMCluster "
                                           r"refuses \{'queue': 'normal'\}"):
        sweep.job_script(missing)
    typo = tmp_path / "typo.yaml"
    typo.write_text("jobqueue: slurm\ncluster: {cores: 1, memory: 1GB, partition: x}\n")
    with pytest.raises(InvalidInput, match=r"typo\.yaml: cluster: .*partition"):
        sweep.job_script(typo)
