"""Sweeps: parameter tables and scheduler files, a 4-point sweep run here and
as a Slurm job array, and the summary that picks the best point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from nairrcore.jobs import sweep
from nairrcore.errors import ConfigError

from conftest import REPO, wait_for_job

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

NOTEBOOK = str(REPO / "notebooks" / "forecasting.ipynb")


def fixed(weather_dir):
    return [f"data={weather_dir}", "cities=2", "epochs=1", "depth=1", "device=cpu", "batch_size=512"]


def test_grid_and_random_points_and_scheduler_files(tmp_path):
    points = sweep.grid_points(sweep.parse_grid(["lr=1e-3,3e-3", "width=16,32"]))
    assert points == [{"lr": "1e-3", "width": "16"}, {"lr": "1e-3", "width": "32"},
                      {"lr": "3e-3", "width": "16"}, {"lr": "3e-3", "width": "32"}]
    rand = sweep.random_points({"lr": {"log_uniform": [1e-4, 1e-2]}, "width": [64, 128], "depth": {"int": [1, 4]}},
                               5, seed=1)
    assert len(rand) == 5 and all(1e-4 <= float(p["lr"]) <= 1e-2 and 1 <= int(p["depth"]) <= 4 for p in rand)
    assert rand == sweep.random_points({"lr": {"log_uniform": [1e-4, 1e-2]}, "width": [64, 128],
                                        "depth": {"int": [1, 4]}}, 5, seed=1)
    slurm_files = sweep.write_sweep(points, NOTEBOOK, "delta", tmp_path / "s", scheduler="slurm", account="acct")
    assert slurm_files["params"].read_text().splitlines()[3] == "lr=3e-3 width=32"
    job = slurm_files["job"].read_text()
    assert "#SBATCH --array=0-3" in job and "params.txt" in job and "#SBATCH --account=acct" in job
    condor = sweep.write_sweep(points, NOTEBOOK, "chtc", tmp_path / "c", scheduler="htcondor")
    assert "queue params from params.txt" in condor["job"].read_text()
    assert "FINAL compare compare.sub" in condor["dag"].read_text()
    assert "sweep-summary" in condor["compare"].read_text()
    with pytest.raises(ConfigError, match="--grid"):
        sweep.parse_grid(["lr"])


def _check_summary(summary_dir, runs_dir):
    rows = [json.loads((d / "test_metrics.json").read_text())["mae"]["tmax"]
            for d in (runs_dir / "laptop" / "forecasting").iterdir()]
    assert len(rows) == 4
    best = json.loads((summary_dir / "best.json").read_text())
    assert best["metric"] == "mae_tmax" and best["value"] == min(rows)
    assert (summary_dir / "sweep_lr.png").is_file() and (summary_dir / "sweep_width.png").is_file()


def test_four_point_sweep_runs_here(weather_dir, tmp_path):
    cmd = [sys.executable, "-m", "nairrcore", "jobs", "sweep", NOTEBOOK, "--grid", "lr=1e-3,1e-2", "width=16,32",
           "--run-local", "--dir", str(tmp_path)]
    for p in fixed(weather_dir):
        cmd += ["--param", p]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    _check_summary(tmp_path / "summary", tmp_path / "runs")


def test_four_point_sweep_as_a_slurm_job_array(slurm, weather_dir, tmp_path):
    points = sweep.grid_points(sweep.parse_grid(["lr=1e-3,1e-2", "width=16,32"]))
    files = sweep.write_sweep(points, NOTEBOOK, "laptop", tmp_path, fixed=fixed(weather_dir), scheduler="slurm",
                              partition="debug", cpus=1, memory_gb=2, time="00:15:00", venv=sys.prefix,
                              workdir=str(tmp_path), out=str(tmp_path / "runs"))
    sub = subprocess.run(["sbatch", "--parsable", str(files["job"])], capture_output=True, text=True, cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().split(";")[0]
    for task in range(4):
        state = wait_for_job(f"{job_id}_{task}")
        assert state == "COMPLETED", (tmp_path / f"nairrcore-forecasting-{job_id}_{task}.out")
    sweep.summarize([tmp_path / "runs"], tmp_path / "summary")
    _check_summary(tmp_path / "summary", tmp_path / "runs")


def test_ensemble_averages_the_members_probabilities(cifar, tmp_path):
    from nairrcore import cifar10
    from nairrcore.workload import ensemble_predictions

    data = cifar.limited(400, 50)
    paths = []
    for seed in (1, 2):
        t = cifar10.Trainer(cifar10.Cifar10Config(model="fastnet", widths=(8, 16, 16), epochs=1, batch_size=100,
                                                  device="cpu", seed=seed))
        t.fit(data)
        paths.append(t.save(tmp_path / f"m{seed}.pt"))
    members = [cifar10.load_model(p).predict_proba(data.test.images) for p in paths]
    mean = ensemble_predictions(cifar10.WORKLOAD, paths, data.test.images)
    assert not torch.equal(members[0], members[1])
    torch.testing.assert_close(mean, (members[0] + members[1]) / 2)
    torch.testing.assert_close(mean.sum(1), torch.ones(50))
