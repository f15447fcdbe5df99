"""The forecasting notebook run headless through `nairrcore run`, on real data."""

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

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


def test_failing_notebook_keeps_partial_evidence_marked_failed(weather_dir, tmp_path):
    result = run(weather_dir, tmp_path, "--param", "width=0")
    assert result.returncode == 1
    assert "width" in result.stderr
    run_dir = next((tmp_path / "laptop" / "forecasting").iterdir())
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and "width" in summary["error"]
    assert (run_dir / "forecasting.ipynb").is_file() and (run_dir / "MANIFEST.sha256").is_file()
