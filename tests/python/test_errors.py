"""Errors the user meets, each named and never a traceback: settings that
name nothing, a run that diverges, a broken run folder (the validator
reports lines and never raises), a CPU run under a GPU platform's name, and
every error class listed in docs/ERRORS.md."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nairrcore import forecasting as fc
from nairrcore.errors import ConfigError
from nairrcore.evidence import validate_run

from conftest import REPO

NAIRRCORE = [sys.executable, "-m", "nairrcore"]

TRAIN = ["--param", "cities=2", "--param", "width=32", "--param", "depth=2", "--param", "batch_size=512",
         "--param", "device=cpu"]


@pytest.mark.slow
def test_settings_that_name_nothing_are_refused_with_the_close_match():
    with pytest.raises(ConfigError, match="'epoch' is not a ForecastConfig setting; did you mean 'epochs'"):
        fc.WORKLOAD.config(environ={"NAIRRCORE_EPOCH": "0"})
    with pytest.raises(ConfigError, match="did you mean 'width'"):
        fc.WORKLOAD.config(widht=3)
    with pytest.raises(ConfigError, match="cities: expected a count of 0..210"):
        fc.load(None, cities=-1)
    with pytest.raises(ConfigError, match="lr: expected a finite value > 0, got inf"):
        fc.ForecastConfig(lr=float("inf")).validated()
    out = subprocess.run([*NAIRRCORE, "train", "forecasting", "--no-record", "--param", "epoch=0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "did you mean 'epochs'" in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.slow
def test_a_run_that_diverges_stops_and_is_marked_failed(weather_dir, tmp_path):
    cmd = [*NAIRRCORE, "train", "forecasting", "--quiet", "--outputs", str(tmp_path), *TRAIN,
           "--param", f"data={weather_dir}", "--param", "epochs=3", "--param", "lr=1e6"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "training diverged in epoch" in out.stderr
    run_dir = next((tmp_path / "laptop" / "forecasting").iterdir())
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and "diverged" in summary["error"]
    assert summary["epochs"] < 3 and validate_run(run_dir) == []


@pytest.mark.slow
def test_the_validator_reports_broken_files_as_lines_and_never_raises(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert validate_run(run) == [f"{run / 'run_summary.json'}: missing"]
    (run / "run_summary.json").write_text("{not json")
    assert validate_run(run) == ["run_summary.json: not valid JSON (line 1: Expecting property name enclosed in "
                                 "double quotes)"]
    (run / "run_summary.json").write_text("[1, 2]")
    assert validate_run(run) == ["run_summary.json: expected a JSON object, found list"]
    (run / "run_summary.json").write_text(json.dumps({"status": "failed", "schema_version": 2, "error": "x"}))
    (run / "run_metadata.json").write_bytes(b"\x89PNG\r\n")
    (run / "MANIFEST.sha256").write_bytes(b"\xff\xfe binary")
    problems = validate_run(run)
    assert "run_metadata.json: not UTF-8 text" in problems and "MANIFEST.sha256: not UTF-8 text" in problems
    out = subprocess.run([*NAIRRCORE, "report", "validate", str(run)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout


@pytest.mark.slow
def test_a_cpu_run_under_a_gpu_platform_name_is_reported_as_cpu(weather_dir, tmp_path):
    """`--platform delta` on a CPU machine: compare shows the recorded CPU, no
    GPU-hour cost and no speedup, and says why; plan prices the laptop and
    leaves delta out, saying why (with --strict, that is an error)."""
    for platform in ("laptop", "delta"):
        cmd = [*NAIRRCORE, "train", "forecasting", "--quiet", "--outputs", str(tmp_path / "runs"), "--platform",
               platform, *TRAIN, "--param", f"data={weather_dir}", "--param", "epochs=1"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
    from nairrcore.reports.compare import compare

    rows = {r["platform"]: r for r in compare([tmp_path / "runs"], "laptop", out_dir=tmp_path / "report",
                                              plots=False)}
    delta = rows["delta"]
    assert delta["hardware"].startswith("CPU") and "A100" not in delta["hardware"]
    assert delta["cost_per_run"] is None and delta["speedup_total"] is None and not delta["comparable"]
    assert "recorded on the CPU, but platform 'delta' is a A100 GPU platform" in delta["note"]
    text = (tmp_path / "report" / "comparison.md").read_text()
    assert "| delta | 1 | CPU" in text and "recorded on the CPU" in text
    cmd = [*NAIRRCORE, "report", "plan", str(tmp_path / "runs"), "--campaign-runs", "2", "--campaign-epochs", "3"]
    plan = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0 and "| forecasting | laptop |" in plan.stdout and "| forecasting | delta |" not in plan.stdout
    assert "delta runs cannot price that platform" in plan.stderr
    strict = subprocess.run([*cmd, "--strict"], capture_output=True, text=True, timeout=120)
    assert strict.returncode == 2 and "cannot price that platform" in strict.stderr


def test_every_error_class_is_listed_in_the_errors_page():
    page = (REPO / "docs" / "ERRORS.md").read_text()
    for name in ("DataError", "ConfigError", "DistError", "TrainingDiverged", "Preempted", "RunFailed"):
        assert f"`{name}`" in page, name
