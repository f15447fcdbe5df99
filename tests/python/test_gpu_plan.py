"""The GPU plan (docs/GPU_CHECK.md, scripts/gpu/) rehearsed on the CPU: the
same step script with tiny configurations, so the plan cannot rot while no
GPU is at hand. Each step must leave the output the plan names."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nairrcore.evidence import validate_run

from conftest import REPO, SHARED_DATA


# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

def test_the_gpu_steps_run_dry_on_the_cpu(weather_dir, tmp_path):
    results = tmp_path / "results"
    env = dict(os.environ, RESULTS=str(results), NAIRRCORE_SHARED_DATA=str(SHARED_DATA), PYTHON=sys.executable,
               WEATHER_DIR=str(weather_dir), NAIRRCORE_WEATHER_DIR=str(weather_dir),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    steps = subprocess.run(["bash", str(REPO / "scripts" / "gpu" / "steps.sh"), "--size", "dry",
                            "forecast", "cifar", "notebooks", "kernels", "forecast_step", "profile_mlp"],
                           capture_output=True, text=True, env=env, timeout=1500)
    assert steps.returncode == 0, steps.stdout[-3000:] + steps.stderr[-2000:]
    assert "all steps passed" in steps.stdout

    forecast = json.loads((results / "forecasting.json").read_text())
    assert forecast["config"]["device"] == "cpu" and forecast["machine"]["cpu_model"]
    assert forecast["speedup"]["end_to_end"] > 0
    assert list(forecast["steadiness"]["sec"]) == ["before", "between", "after"]
    assert all(t > 0 for t in forecast["steadiness"]["sec"].values())
    rounds = forecast["rounds"]  # --repeats 2: each side goes first once
    assert sorted(r["order"][0] for r in rounds) == ["baseline", "nairrcore"]
    reported = rounds[forecast["reported_round"]["round"]]  # rounds are listed by end-to-end speedup
    assert forecast["speedup"]["end_to_end"] == reported["speedup"]["end_to_end"]
    assert forecast["steadiness"] == reported["steadiness"]
    steady = [r for r in rounds if r["steadiness"]["steady"]]
    assert forecast["reported_round"]["steady_rounds"] == len(steady)
    assert reported == (steady or rounds)[0]  # the lower median of the steady ones (or of both)
    judged = forecast["accuracy"]  # a 1-epoch model of width 32 may or may not beat persistence: either is said
    assert judged["verdict"].startswith(("not meaningful", "same accuracy", "differs"))
    assert list(judged["nairrcore_other_seeds"]) == ["43"] and 0 < judged["persistence_mae"]["tmax"] < 10
    cifar = json.loads((results / "cifar10.json").read_text())
    assert cifar["machine"]["cpu_model"] and "train_step" in cifar
    assert list(cifar["steadiness"]["sec"]) == ["start", "end"]

    step = json.loads((results / "forecasting_step.json").read_text())  # the short plan's form: no baseline
    assert step["mode"] == "step-only" and "baseline" not in step and step["nairrcore"]["train_samples_per_sec"] > 0
    assert step["op_counts_per_step"]["nairrcore"]["aten_ops"] > 0
    assert (results / "pytest_kernels.xml").is_file()

    runs = sorted(p for p in (results / "outputs").glob("*/*/*") if p.is_dir())
    assert {r.parent.name for r in runs} == {"forecasting", "cifar10"}
    for run in runs:
        assert validate_run(run) == [], run
    comparison = (results / "comparison" / "comparison.md").read_text()
    assert "forecasting" in comparison and "cifar10" in comparison


def test_the_boot_refuses_to_start_without_the_commit_the_results_will_name(tmp_path):
    env = dict(os.environ, NAIRRCORE_GPU_HOME=str(tmp_path / "nc"))
    env.pop("OUT", None)
    for args, says in ([], "--commit HASH"), (["--commit", "not-a-hash"], "--commit HASH"), (["--fast"], "unknown option"):
        boot = subprocess.run(["bash", str(REPO / "scripts" / "gpu" / "remote.sh"), "boot", *args],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        assert boot.returncode == 2 and says in boot.stderr, (args, boot.stderr)
    assert not (tmp_path / "nc" / "source_commit").exists() and not (tmp_path / "nc" / "src").exists()


def test_the_boot_puts_the_carried_weather_archive_in_place_only_when_its_checksum_holds(tmp_path):
    """The short plan's data travels whole beside boot/ in the first call (scripts/gpu/stage.sh)."""
    archive = SHARED_DATA / "us-210-cities-daily.tar.xz"
    call = tmp_path / "call"
    (call / ".gpu" / "boot").mkdir(parents=True)
    (call / ".gpu" / "weather").mkdir()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (call / ".gpu" / "boot" / "SHA256SUMS").write_text(f"{digest}  us-210-cities-daily.tar.xz\n")
    carried = call / ".gpu" / "weather" / archive.name
    shutil.copy(archive, carried)
    env = dict(os.environ, NAIRRCORE_GPU_HOME=str(tmp_path / "nc"))
    env.pop("OUT", None)

    def weather():
        return subprocess.run(["bash", str(REPO / "scripts" / "gpu" / "remote.sh"), "weather"],
                              capture_output=True, text=True, env=env, cwd=call, timeout=120)

    placed = tmp_path / "nc" / "data" / archive.name
    ok = weather()
    assert ok.returncode == 0 and "in place" in ok.stdout, ok.stderr
    assert placed.stat().st_size == archive.stat().st_size
    with open(carried, "r+b") as f:  # one flipped byte in transit
        f.seek(1 << 20)
        byte = f.read(1)
        f.seek(1 << 20)
        f.write(bytes([byte[0] ^ 0xFF]))
    bad = weather()
    assert bad.returncode == 1 and "checksum mismatch" in bad.stderr
    assert not placed.exists()


def test_a_comparison_says_when_the_machine_changed_speed_under_it(capsys):
    sys.path.insert(0, str(REPO / "bench"))
    import steadiness

    steady = steadiness.steadiness({"before": 1.00, "between": 1.08, "after": 1.05})
    assert steady["steady"] and abs(steady["spread"] - 0.08) < 1e-12 and capsys.readouterr().err == ""
    shaken = steadiness.steadiness({"before": 1.00, "between": 1.25, "after": 0.98})
    assert not shaken["steady"] and abs(shaken["spread"] - (1.25 / 0.98 - 1)) < 1e-12
    assert "changed by 28%" in capsys.readouterr().err
    assert 0 < steadiness.probe_sec() < 60


def test_the_reported_round_is_the_median_of_the_steady_ones():
    sys.path.insert(0, str(REPO / "bench"))
    import steadiness

    def round_(speedup, steady):
        return {"speedup": speedup, "steadiness": {"steady": steady}}

    key = lambda r: r["speedup"]  # noqa: E731
    mixed = [round_(3.0, True), round_(3.4, False), round_(3.5, False)]
    assert steadiness.median_round(mixed, key) == (mixed[0], "steady rounds")
    two_steady = [round_(3.5, False), round_(3.1, True), round_(2.9, True)]
    assert steadiness.median_round(two_steady, key) == (two_steady[2], "steady rounds")  # lower median
    shaken = [round_(3.5, False), round_(2.5, False), round_(3.0, False)]
    assert steadiness.median_round(shaken, key) == (shaken[2], "all rounds (none steady)")


def test_an_accuracy_comparison_says_when_it_means_nothing():
    sys.path.insert(0, str(REPO / "bench"))
    import accuracy

    persistence = {"tmax": 5.0, "tmin": 3.8, "prcp": 0.104}
    untrained = accuracy.verdict({"tmax": 19.5, "tmin": 8.2, "prcp": 0.106}, {"tmax": 19.47, "tmin": 8.25, "prcp": 0.104},
                                 persistence, {})
    assert untrained["verdict"].startswith("not meaningful: not better than persistence (baseline on tmax")
    assert untrained["beats_persistence"]["nairrcore"] == {"tmax": False, "tmin": False, "prcp": False}
    assert untrained["nairrcore_seed_spread"] is None

    base = {"tmax": 4.50, "tmin": 3.30, "prcp": 0.092}
    same = accuracy.verdict(base, {"tmax": 4.53, "tmin": 3.33, "prcp": 0.094}, persistence, {})
    assert same["verdict"] == "same accuracy: every target within 3%"
    assert abs(same["mae_skill_over_persistence"]["baseline"]["tmax"] - 0.1) < 1e-12

    seeds = {43: {"tmax": 4.50, "tmin": 3.30, "prcp": 0.0905}}  # prcp moves 7% with the seed alone
    noisy = accuracy.verdict(base, {"tmax": 4.53, "tmin": 3.33, "prcp": 0.0966}, persistence, seeds)
    assert noisy["verdict"].startswith("same accuracy within nairrcore's range over 2 seeds: prcp +5.0%")
    assert abs(noisy["nairrcore_seed_spread"]["prcp"] - (0.0966 / 0.0905 - 1)) < 1e-12
    assert noisy["nairrcore_other_seeds"] == {"43": seeds[43]}
    assert noisy["nairrcore_mae_range"]["prcp"] == [0.0905, 0.0966]

    off = {"tmax": 4.80, "tmin": 3.31, "prcp": 0.110}  # worse at every seed: not the seed's doing
    apart = accuracy.verdict(base, off, persistence, {43: {"tmax": 4.78, "tmin": 3.30, "prcp": 0.108}})
    assert apart["verdict"] == "differs: tmax +6.7%, prcp +19.6%; not better than persistence: nairrcore on prcp"
    outlier = accuracy.verdict(base, off, persistence, {43: {"tmax": 4.49, "tmin": 3.30, "prcp": 0.093}})
    assert outlier["verdict"].startswith("same accuracy within nairrcore's range over 2 seeds: tmax +6.7%")
