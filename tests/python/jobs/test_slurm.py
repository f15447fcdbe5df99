"""A generated Slurm batch script, submitted with sbatch to a real (local) Slurm:
scripts/dev.sh test starts one with scripts/slurm/local_cluster.sh and sets
NAIRRCORE_REQUIRE_SLURM=1, so there the test cannot skip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nairrcore.evidence import validate_run

from conftest import REPO, wait_for_job


# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

def test_generated_sbatch_script_runs_the_notebook_with_evidence(slurm, weather_dir, tmp_path):
    out = tmp_path / "outputs"
    script = tmp_path / "forecasting.sbatch"
    gen = subprocess.run(
        [sys.executable, "-m", "nairrcore", "jobs", "script", "notebooks/forecasting.ipynb", "--platform", "laptop",
         "--scheduler", "slurm", "--partition", "debug", "--cpus", "2", "--mem", "4", "--time", "00:15:00",
         "--venv", sys.prefix, "--workdir", str(REPO), "--outputs", str(out), "-o", str(script),
         "--param", f"data={weather_dir}", "--param", "cities=2", "--param", "epochs=2", "--param", "width=32",
         "--param", "depth=1", "--param", "device=cpu"], capture_output=True, text=True, cwd=REPO)
    assert gen.returncode == 0, gen.stderr
    sub = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().split(";")[0]
    state = wait_for_job(job_id)
    log = tmp_path / f"nairrcore-forecasting-{job_id}.out"
    assert state == "COMPLETED", log.read_text()[-3000:] if log.exists() else state
    assert str(out) in log.read_text()  # nairrcore run printed the run folder into the job log
    [run_dir] = list((out / "laptop" / "forecasting").iterdir())
    assert validate_run(run_dir) == []
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["scheduler_job_id"] == job_id
    system = json.loads((run_dir / "env" / "system.json").read_text())
    assert system["scheduler_env"]["SLURM_JOB_ID"] == job_id
