"""Both notebooks run headless through `nairrcore run`, on real data, with evidence
that passes the schema."""

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nairrcore.evidence import validate_run

from conftest import CIFAR_DIR, REPO

EVIDENCE = ["forecasting.ipynb", "epoch_timing.csv", "run_summary.json", "test_metrics.json",
            "run_metadata.json", "telemetry.csv", "MANIFEST.sha256", "env/pip_freeze.txt", "env/system.json"]


def run(weather_dir, out, *params):
    cmd = [sys.executable, "-m", "nairrcore", "run", str(REPO / "notebooks" / "forecasting.ipynb"),
           "--quiet", "--out", str(out), "--param", f"data={weather_dir}", "--param", "cities=2",
           "--param", "epochs=2", "--param", "width=32", "--param", "depth=1", "--param", "device=cpu", *params]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_run_writes_complete_evidence(weather_dir, tmp_path):
    result = run(weather_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    for name in EVIDENCE:
        assert (run_dir / name).is_file(), name
    rows = list(csv.DictReader(open(run_dir / "epoch_timing.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert all(float(r["train_sec"]) > 0 and float(r["samples_per_sec"]) > 0 for r in rows)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["parameters"]["cities"] == "2"
    assert meta["config"]["config"]["width"] == 32
    assert len(meta["config"]["dataset"]["sha256"]) == 64
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert len(metrics["per_city"]) == 2
    for line in (run_dir / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest
    assert validate_run(run_dir) == []


def test_cifar10_notebook_writes_valid_evidence(tmp_path):
    cmd = [sys.executable, "-m", "nairrcore", "run", str(REPO / "notebooks" / "cifar10.ipynb"), "--quiet",
           "--out", str(tmp_path), "--param", f"data={CIFAR_DIR}", "--param", "widths=16,32,32",
           "--param", "train_limit=1000", "--param", "test_limit=500", "--param", "batch_size=250",
           "--param", "device=cpu"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert validate_run(run_dir) == []
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert metrics["samples"] == 500 and 0 <= metrics["top1_accuracy"] <= 1
    assert sum(map(sum, metrics["confusion"])) == 500
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["hyperparameters"]["model"] == "fastnet" and meta["seed"] == 42
    for png in ("cifar10_curves.png", "cifar10_predictions.png"):
        assert (run_dir / png).stat().st_size > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_asking_for_a_gpu_without_one_fails_at_once(tmp_path):
    cmd = [sys.executable, "-m", "nairrcore", "run", str(REPO / "notebooks" / "forecasting.ipynb"), "--gpu",
           "--out", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "GPU" in result.stderr
    assert not any(tmp_path.iterdir())  # no run folder started


def test_failing_notebook_keeps_partial_evidence_marked_failed(weather_dir, tmp_path):
    result = run(weather_dir, tmp_path, "--param", "width=0")
    assert result.returncode == 1
    assert "width" in result.stderr
    run_dir = next((tmp_path / "laptop" / "forecasting").iterdir())
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and "width" in summary["error"]
    assert validate_run(run_dir) == []
    assert (run_dir / "forecasting.ipynb").is_file() and (run_dir / "MANIFEST.sha256").is_file()
