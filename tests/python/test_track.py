"""Three lines of tracking: epochs and a headline metric written as the
built-in workloads write them, into ``nairrcore run``'s folder or, used
alone, into a run folder of their own. Energy: the GPUs' and the CPU's
(RAPL) from their counters' differences, or the reason there is none, never
a zero; kWh and an estimate of CO2e in the reports."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from nairrcore.errors import ConfigError
from nairrcore.evidence import validate_run
from nairrcore.evidence.telemetry import gpu_energy
from nairrcore.evidence.track import Tracker
from nairrcore.execute import command_line, run_command
from nairrcore.reports.compare import compare

from conftest import REPO

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


def _powercap(root, zones: dict[str, tuple[str, int, int]]):
    for zone, (name, uj, max_uj) in zones.items():
        (root / zone).mkdir(parents=True, exist_ok=True)
        (root / zone / "name").write_text(name + "\n")
        (root / zone / "energy_uj").write_text(f"{uj}\n")
        (root / zone / "max_energy_range_uj").write_text(f"{max_uj}\n")


def test_cpu_energy_is_the_rapl_counters_difference_across_a_wrap_or_a_reason(tmp_path):
    from nairrcore.evidence.energy import rapl_energy, rapl_read, total_kwh

    root = tmp_path / "powercap"
    big = 262143328850
    _powercap(root, {"intel-rapl:0": ("package-0", big - 1_000_000, big), "intel-rapl:0:0": ("core", 5, big),
                     "intel-rapl:0:1": ("dram", 2_000_000, big)})
    start = rapl_read(root)
    _powercap(root, {"intel-rapl:0": ("package-0", 4_000_000, big), "intel-rapl:0:1": ("dram", 3_500_000, big)})
    energy = rapl_energy(start, rapl_read(root))
    assert energy["cpu_j"] == pytest.approx(5.0) and energy["dram_j"] == pytest.approx(1.5)  # across the wrap
    assert total_kwh({**energy, "gpu_j": 3.5}) == (pytest.approx(10.0 / 3.6e6), "GPU + CPU package + DRAM")
    for absent in (tmp_path / "none", tmp_path):  # no powercap folder; a folder without RAPL zones
        why = rapl_energy(rapl_read(absent), rapl_read(absent))
        assert why["cpu_j"] is None and why["cpu_reason"]
    here = rapl_energy(rapl_read(), rapl_read())  # this machine: a value, or why not
    assert (here["cpu_j"] is not None and here["cpu_j"] >= 0) or here["cpu_reason"]


def test_training_window_energy_is_bounded_by_the_samples_at_phase_changes():
    from nairrcore.evidence.telemetry import train_gpu_energy

    phases = ["idle", "train_epoch_0", "train_epoch_0", "validation_epoch_0", "train_epoch_1", "between_epochs"]
    counter = [0.0, 10.0, 30.0, 45.0, 50.0, 58.0]
    rows = [{"phase": p, "gpu_index": 0, "gpu_energy_j": c, "elapsed_sec": t}
            for t, (p, c) in enumerate(zip(phases, counter))]
    energy = train_gpu_energy(rows)
    assert energy["train_gpu_j"] == pytest.approx((45 - 10) + (58 - 50)) and energy["train_epochs_measured"] == 2
    assert energy["gpu_kwh_per_epoch"] == pytest.approx(43 / 2 / 3.6e6)
    assert train_gpu_energy([{**r, "gpu_energy_j": ""} for r in rows]) == {}


def test_reports_give_kwh_and_an_estimate_of_co2e_where_the_profile_has_an_intensity(tmp_path):
    from nairrcore.reports.plan import plan

    runs = []
    examples = sorted((REPO / "outputs" / "examples" / "laptop" / "forecasting").iterdir())
    for name, kwh in (("a", 0.002), ("b", 0.004)):
        dest = tmp_path / "runs" / "laptop" / "forecasting" / name
        shutil.copytree(examples[0], dest)
        summary = json.loads((dest / "run_summary.json").read_text())
        summary["energy"] = {"gpu_j": None, "reason": "no GPU", "cpu_j": kwh * 3.6e6, "dram_j": None,
                             "kwh": kwh, "covers": "CPU package"}
        (dest / "run_summary.json").write_text(json.dumps(summary))
        runs.append(dest)
    profiles = tmp_path / "platforms.json"
    profiles.write_text(json.dumps({"laptop": {"carbon": {"g_co2e_per_kwh": 400, "source": "a grid operator",
                                                          "as_of": "2026"}}}))
    row = compare(runs, "laptop", out_dir=tmp_path / "report", platforms_file=profiles, plots=False)[0]
    assert row["energy_kwh"] == pytest.approx(0.003) and row["co2e_kg_estimate"] == pytest.approx(0.0012)
    assert "CO2e is an estimate: 400 g/kWh (a grid operator, 2026)" in row["note"]
    assert "energy/run (kWh)" in (tmp_path / "report" / "comparison.md").read_text()
    planned = plan(runs, runs=10, epochs=5)[0]
    wall = [json.loads((r / "run_summary.json").read_text())["wall_sec"] / 3600 for r in runs]
    rates = sorted(k / w for k, w in zip((0.002, 0.004), wall))
    assert planned["campaign_kwh"] == pytest.approx(sum(rates) / 2 * planned["hours_per_run"] * 10)
    profiles.write_text(json.dumps({"laptop": {"carbon": {"g_co2e_per_kwh": 0}}}))
    with pytest.raises(ConfigError, match="carbon needs g_co2e_per_kwh"):
        compare(runs, "laptop", platforms_file=profiles, plots=False)
