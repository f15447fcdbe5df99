"""Three lines of tracking: epochs and a headline metric written as the
built-in workloads write them, into ``nairrcore run``'s folder or, used
alone, into a run folder of their own; GPU energy from the counter's
difference, or the reason there is none, never a zero."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from nairrcore.errors import ConfigError
from nairrcore.evidence import validate_run
from nairrcore.evidence.telemetry import gpu_energy
from nairrcore.evidence.track import Tracker
from nairrcore.execute import command_line, run_command
from nairrcore.reports.compare import compare

SCRIPT = """import time
from nairrcore import track
for epoch in range({epochs}):
    with track.epoch(samples=1000, train_loss=1.0 / (epoch + 1)):
        time.sleep(0.05)
track.metric("val_loss", 0.25, lower_is_better=True)
track.metric("accuracy", 0.9)
"""


def test_a_tracker_appends_epochs_and_names_the_first_directed_metric_the_headline(tmp_path):
    t = Tracker(tmp_path)
    for k in range(3):
        t.record_epoch(0.5, 1000, train_loss=0.1 * k)
    t.metric("val_loss", 0.4, lower_is_better=True)
    t.metric("accuracy", 0.8, lower_is_better=False)  # a second direction does not take the headline
    t.metric("val_loss", 0.3)
    t.close()
    rows = list(csv.DictReader(open(tmp_path / "epoch_timing.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2] and float(rows[1]["samples_per_sec"]) == 2000
    assert rows[0]["val_loss"] == "" and float(rows[2]["train_loss"]) == pytest.approx(0.2)
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert metrics["headline"] == {"name": "val_loss", "value": 0.3, "lower_is_better": True}
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ConfigError, match="samples"):
            t.record_epoch(1.0, bad)
    with pytest.raises(ConfigError, match="seconds"):
        t.record_epoch(float("nan"), 10)
    with pytest.raises(ConfigError, match="must be a number"):
        t.metric("x", "0.5")


@pytest.mark.slow
def test_tracking_under_nairrcore_run_adds_epochs_and_the_headline_to_the_plain_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tracked.py").write_text(SCRIPT.format(epochs=3))
    runs = []
    for platform in ("laptop", "jetstream2"):
        argv, name, code = command_line(str(tmp_path / "tracked.py"), [], {})
        runs.append(run_command(argv, name, platform, tmp_path / "out", code=code, echo=False))
    for run_dir in runs:
        assert validate_run(run_dir) == []
        summary = json.loads((run_dir / "run_summary.json").read_text())
        assert summary["kind"] == "plain" and summary["epochs"] == 3
        assert summary["mean_train_sec_per_epoch"] >= 0.05 and summary["train_samples_per_sec"] > 0
    rows = {r["platform"]: r for r in compare(runs, "laptop", plots=False)}
    assert rows["jetstream2"]["epoch_sec"] >= 0.05 and rows["jetstream2"]["speedup_epoch"] > 0
    assert rows["jetstream2"]["metric"] == "val_loss" and rows["jetstream2"]["metric_value"] == 0.25


@pytest.mark.slow
def test_tracking_alone_makes_a_run_folder_of_its_own(tmp_path):
    (tmp_path / "alone.py").write_text(SCRIPT.format(epochs=2))
    env = {k: v for k, v in os.environ.items() if k != "NAIRRCORE_RUN_DIR"}
    env["NAIRRCORE_OUTPUTS"] = str(tmp_path / "out")
    out = subprocess.run([sys.executable, "alone.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "out" / "laptop" / "alone.py").iterdir()
    assert validate_run(run_dir) == []
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["kind"] == "plain" and summary["epochs"] == 2
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["code"]["files"] == ["alone.py"] and len(meta["code"]["sha256"]) == 64
    (tmp_path / "broken.py").write_text(SCRIPT.format(epochs=1) + "raise RuntimeError('after one epoch')\n")
    out = subprocess.run([sys.executable, "broken.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1
    (run_dir,) = (tmp_path / "out" / "laptop" / "broken.py").iterdir()
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "RuntimeError: after one epoch"


def _rows(energy_by_time: dict[int, list[float]]) -> list[dict]:
    return [{"elapsed_sec": float(t), "gpu_index": g, "gpu_energy_j": e}
            for t, values in energy_by_time.items() for g, e in enumerate(values)]


def test_gpu_energy_is_the_counters_difference_or_a_reason_never_zero():
    available = {"available": True, "names": ["H100", "H100"]}
    energy = gpu_energy(_rows({0: [1000.0, 5000.0], 1: [1300.0, 5100.0], 3: [1900.0, 5250.5]}), available)
    assert energy["per_gpu_j"] == {"0": 900.0, "1": 250.5} and energy["gpu_j"] == pytest.approx(1150.5)
    assert energy["gpu_kwh"] == pytest.approx(1150.5 / 3.6e6) and energy["window_sec"] == 3.0
    for rows, gpu, why in [
        ([], {"available": False, "reason": "libnvidia-ml.so.1 not found (no NVIDIA driver)"}, "no NVIDIA driver"),
        ([{"elapsed_sec": 0.0, "gpu_index": 0, "gpu_energy_j": ""}], available, "no energy counter"),
        (_rows({0: [1000.0]}), available, "fewer than two energy readings"),
    ]:
        energy = gpu_energy(rows, gpu)
        assert energy["gpu_j"] is None and why in energy["reason"]
