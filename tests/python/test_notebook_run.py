"""The notebooks leave complete, valid evidence on real data however they are
run: through `nairrcore run`, or through plain `jupyter nbconvert --execute`
with no nairrcore variable at all (data from the fetched cache, run folder
under the outputs root). A run that dies leaves a folder that says so, and
the validator and the reports refuse it."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nairrcore.evidence import outputs_root, validate_run

from conftest import CIFAR_DIR, REPO, WEATHER_ARCHIVE

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

EVIDENCE = ["forecasting.ipynb", "epoch_timing.csv", "run_summary.json", "test_metrics.json", "run_config.json",
            "run_metadata.json", "telemetry.csv", "MANIFEST.sha256", "README.md", "notebook_output.txt",
            "env/pip_freeze.txt", "env/system.json"]
NAIRRCORE = [sys.executable, "-m", "nairrcore"]
JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def run_dir_of(output: str) -> Path:
    """The run folder from `nairrcore run`'s closing block."""
    line = next(line for line in output.splitlines() if line.startswith("run folder"))
    return Path(line.split(None, 2)[2])


def run(weather_dir, out, *params):
    cmd = [*NAIRRCORE, "run", str(REPO / "notebooks" / "forecasting.ipynb"), "--quiet", "--outputs", str(out),
           "--param", f"data={weather_dir}", "--param", "cities=2", "--param", "epochs=2", "--param", "width=32",
           "--param", "depth=1", "--param", "device=cpu", *params]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_run_writes_complete_evidence_and_a_closing_block(weather_dir, tmp_path):
    result = run(weather_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "status      completed" in result.stdout and "nairrcore report validate" in result.stdout
    run_dir = run_dir_of(result.stdout)
    for name in EVIDENCE:
        assert (run_dir / name).is_file(), name
    rows = list(csv.DictReader(open(run_dir / "epoch_timing.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert all(float(r["train_sec"]) > 0 and float(r["samples_per_sec"]) > 0 for r in rows)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["parameters"]["cities"] == 2 and meta["config"]["config"]["width"] == 32
    assert meta["machine"]["cpu_model"] and meta["device"] == "cpu"
    assert len(meta["config"]["dataset"]["sha256"]) == 64
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert len(metrics["per_city"]) == 2 and metrics["headline"]["name"] == "mae_tmax"
    persistence = metrics["persistence"]  # tomorrow equals today, on the same test rows
    assert persistence["rows"] == metrics["rows"] and 0 < persistence["mae"]["tmax"] < 10
    assert all(city["mae_persistence_tmax"] > 0 for city in metrics["per_city"])
    assert metrics["mae_skill_over_persistence"]["tmax"] == pytest.approx(
        1 - metrics["mae"]["tmax"] / persistence["mae"]["tmax"])
    assert metrics["headline"]["reference"]["value"] == persistence["mae"]["tmax"]
    assert f"; persistence {persistence['mae']['tmax']:.4g} (tomorrow equals today" in result.stdout
    for line in (run_dir / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest
    output = (run_dir / "notebook_output.txt").read_text()
    assert "\r" not in output and "TqdmWarning" not in output and "(persistence MAE " in output
    phases = {r["phase"] for r in csv.DictReader(open(run_dir / "telemetry.csv"))}
    assert "start" not in phases
    readme = (run_dir / "README.md").read_text()
    assert "Status: **completed**" in readme and "MANIFEST.sha256" in readme
    assert f"| test mae_tmax of persistence | {persistence['mae']['tmax']:.4g} |" in readme
    assert validate_run(run_dir) == []


def test_cifar10_notebook_writes_valid_evidence(tmp_path):
    cmd = [*NAIRRCORE, "run", str(REPO / "notebooks" / "cifar10.ipynb"), "--quiet", "--outputs", str(tmp_path),
           "--param", f"data={CIFAR_DIR}", "--param", "widths=16,32,32", "--param", "train_limit=1000",
           "--param", "test_limit=500", "--param", "batch_size=250", "--param", "epochs=1", "--param", "device=cpu"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = run_dir_of(result.stdout)
    assert validate_run(run_dir) == []
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert metrics["samples"] == 500 and 0 <= metrics["top1_accuracy"] <= 1
    assert metrics["headline"] == {"name": "top1_accuracy", "value": metrics["accuracy"], "lower_is_better": False}
    assert sum(map(sum, metrics["confusion"])) == 500
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["hyperparameters"]["model"] == "fastnet" and meta["seed"] == 42
    for png in ("cifar10_curves.png", "cifar10_predictions.png"):
        assert (run_dir / png).stat().st_size > 0


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    result = subprocess.run([*NAIRRCORE, "run", str(REPO / "notebooks" / "forecasting.ipynb"), "--outputs",
                             str(tmp_path), "--param", "epoch=1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "'epoch' is not a ForecastConfig setting; did you mean 'epochs'?" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_asking_for_a_gpu_without_one_fails_at_once(tmp_path):
    cmd = [*NAIRRCORE, "run", str(REPO / "notebooks" / "forecasting.ipynb"), "--gpu", "--outputs", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "GPU" in result.stderr
    assert not any(tmp_path.iterdir())  # no run folder started


def test_failing_notebook_keeps_partial_evidence_marked_failed(weather_dir, tmp_path):
    result = run(weather_dir, tmp_path, "--param", "width=0")
    assert result.returncode == 1
    assert "status      failed" in result.stderr and "width" in result.stderr
    run_dir = next((tmp_path / "laptop" / "forecasting").iterdir())
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and "width" in summary["error"]
    assert validate_run(run_dir) == []
    assert (run_dir / "forecasting.ipynb").is_file() and (run_dir / "MANIFEST.sha256").is_file()
    checked = subprocess.run([*NAIRRCORE, "report", "validate", str(run_dir)], capture_output=True, text=True)
    assert checked.returncode == 1 and "did not complete (status failed: " in checked.stdout
    assert ": ok" not in checked.stdout


def plain_nbconvert(notebook: str, tmp_path: Path, cache: Path, **env) -> subprocess.CompletedProcess:
    """`jupyter nbconvert --execute` as a user runs it: no NAIRRCORE_ data or run
    variable; only the outputs root and the data cache point into tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NAIRRCORE_")}
    clean.update(NAIRRCORE_OUTPUTS=str(tmp_path / "outputs"), NAIRRCORE_CACHE=str(cache), **env)
    cmd = [JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(tmp_path / "executed"),
           str(REPO / "notebooks" / notebook)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=clean)


@pytest.fixture(scope="module")
def fetched_cache(tmp_path_factory):
    """A data cache holding both data sets, fetched once from the local copies (no download)."""
    cache = tmp_path_factory.mktemp("cache")
    env = dict(os.environ, NAIRRCORE_CACHE=str(cache))
    for name, source in (("weather", WEATHER_ARCHIVE), ("cifar10", CIFAR_DIR)):
        out = subprocess.run([*NAIRRCORE, "data", "fetch", name, "--from", str(source)], env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
    return cache


@pytest.mark.parametrize("notebook", ["forecasting.ipynb", "cifar10.ipynb", "example_regression.ipynb"])
def test_plain_nbconvert_writes_a_valid_run_folder(notebook, tmp_path, fetched_cache):
    result = plain_nbconvert(notebook, tmp_path, fetched_cache)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "laptop").glob("*/*"))
    assert len(runs) == 1, runs
    run_dir = runs[0]
    assert validate_run(run_dir) == [], validate_run(run_dir)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] >= 1
    assert not (REPO / "notebooks" / "outputs").exists()


def test_a_killed_run_is_marked_and_refused_by_every_report(tmp_path, fetched_cache):
    """SIGKILL mid-training: the folder stays 'running'; validate, compare and plan refuse it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NAIRRCORE_")}
    clean.update(NAIRRCORE_OUTPUTS=str(tmp_path / "outputs"), NAIRRCORE_CACHE=str(fetched_cache),
                 NAIRRCORE_EPOCHS="200", NAIRRCORE_CITIES="3")
    proc = subprocess.Popen([JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--output-dir",
                             str(tmp_path / "executed"), str(REPO / "notebooks" / "forecasting.ipynb")],
                            env=clean, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    timing = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "outputs").glob("laptop/forecasting/*/epoch_timing.csv"))
        if found:
            timing = found[0]
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the kernel too: nothing gets to clean up
    proc.wait(timeout=60)
    assert timing is not None, "training never started"
    run_dir = timing.parent
    assert json.loads((run_dir / "run_summary.json").read_text())["status"] == "running"
    problems = validate_run(run_dir)
    assert any("never finished" in p for p in problems)
    compare = subprocess.run([*NAIRRCORE, "report", "compare", str(tmp_path / "outputs"), "--baseline", "laptop",
                              "--out", str(tmp_path / "report")], capture_output=True, text=True, timeout=120)
    assert compare.returncode == 2 and "not completed" in compare.stderr and "running" in compare.stderr
    plan = subprocess.run([*NAIRRCORE, "report", "plan", str(tmp_path / "outputs"), "--campaign-runs", "2",
                           "--campaign-epochs", "3"], capture_output=True, text=True, timeout=120)
    assert plan.returncode == 2 and "not completed" in plan.stderr


def test_outputs_root_is_found_above_the_working_directory(tmp_path):
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "README.md").write_text("runs\n")
    (tmp_path / "notebooks").mkdir()
    assert outputs_root({}, tmp_path / "notebooks") == tmp_path / "outputs"
    assert outputs_root({"NAIRRCORE_OUTPUTS": "/x"}, tmp_path) == Path("/x")
    assert outputs_root({}, Path("/")) == Path("/outputs")
