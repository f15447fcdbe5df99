"""Evidence: schema validation, platform profiles, comparison, the training window, the CPU recorded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from nairrcore.errors import ConfigError
from nairrcore.evidence import validate_run
from nairrcore.platforms import load_platforms
from nairrcore.reports.compare import compare
from nairrcore.files import write_csv, write_json, write_manifest
from nairrcore.evidence.environment import git_state, machine
from nairrcore.hardware import cpu_id
from nairrcore.evidence.recorder import EPOCH_COLUMNS
from nairrcore.reports.runs import load_run
from nairrcore.evidence.telemetry import COLUMNS as TELEMETRY_COLUMNS

from conftest import REPO

SPEC_PLATFORMS = {"laptop", "jetstream2", "aws-g4dn", "bridges2", "delta", "anvil", "alvis", "chtc"}
FINGERPRINT = "ab" * 32


def fake_run(root: Path, platform: str, run_id: str, *, wall: float, epoch_train: float, epochs: int = 2,
             fingerprint: str = FINGERPRINT, width: int = 256, gpus: int = 0, util: float | None = None,
             reference: float | None = None) -> Path:
    """A complete, schema-valid run folder with hand-chosen numbers."""
    d = root / platform / "forecasting" / run_id
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1), "train_sec": epoch_train,
             "val_sec": 1.0, "epoch_sec": epoch_train + 1.0, "samples_per_sec": 1000 / epoch_train,
             "train_samples": 1000} for e in range(epochs)]
    write_csv(d / "epoch_timing.csv", EPOCH_COLUMNS, rows)
    telemetry = [{"time_unix": 1.8e9 + t, "elapsed_sec": t, "phase": "train_epoch_0", "cpu_percent": 100.0,
                  "rss_bytes": 10**9, "gpu_index": 0 if gpus else "", "gpu_util_percent": util if gpus else "",
                  "gpu_mem_bytes": 2 * 10**9 if gpus else "", "gpu_power_w": 70.0 if gpus else ""} for t in range(3)]
    write_csv(d / "telemetry.csv", TELEMETRY_COLUMNS, telemetry)
    write_json(d / "run_summary.json", {
        "status": "completed", "schema_version": 1, "workload": "forecasting", "platform": platform,
        "wall_sec": wall, "training_sec": epoch_train * epochs, "validation_sec": 1.0 * epochs, "data_prep_sec": 2.0,
        "time_to_first_batch_sec": 2.5, "data_wait_sec": 0.1, "epochs": epochs,
        "mean_train_sec_per_epoch": epoch_train, "train_samples_per_sec": 1000 / epoch_train,
        "peak_host_rss_bytes": 10**9, "peak_gpu_mem_bytes": 2 * 10**9 if gpus else None,
        "mean_gpu_util_train_percent": util, "gpu_telemetry": {"available": bool(gpus)}, "phases_sec": {}})
    metrics = {"rows": 10, "mae": {"tmax": 5.0, "tmin": 4.0, "prcp": 0.1}, "rmse": {"tmax": 6.0, "tmin": 5.0, "prcp": 0.2},
               "per_city": [{"id": "X", "rows": 10, "mae_tmax": 5.0, "rmse_tmax": 6.0}]}
    if reference is not None:
        metrics["headline"] = {"name": "mae_tmax", "value": 5.0, "lower_is_better": True,
                               "reference": {"name": "persistence", "value": reference}}
    write_json(d / "test_metrics.json", metrics)
    write_json(d / "run_metadata.json", {
        "schema_version": 1, "run_id": run_id, "workload": "forecasting", "platform": platform,
        "status": "completed", "host": "h", "scheduler_job_id": None, "git": {"commit": None, "dirty": None},
        "versions": {"nairrcore": "0", "torch": "2.11", "python": "3.11", "cuda": None, "cudnn": None, "nccl": None},
        "gpu": {"count": gpus, "name": "T4" if gpus else None}, "parameters": {},
        "hyperparameters": {"width": width, "seed": 42, "device": "cuda" if gpus else "cpu"}, "seed": 42,
        "dataset": {"sha256": fingerprint, "files": 3, "bytes": 100}, "started_unix": 1.8e9, "finished_unix": 1.8e9})
    for name in ("env/pip_freeze.txt", "env/system.json", "env/nvidia_smi.txt"):
        (d / name).parent.mkdir(exist_ok=True)
        (d / name).write_text("{}\n")
    write_manifest(d)
    return d


def test_compare_computes_speedup_and_cost_from_the_runs(tmp_path):
    fake_run(tmp_path, "laptop", "a", wall=400.0, epoch_train=100.0)
    fake_run(tmp_path, "laptop", "b", wall=440.0, epoch_train=110.0)
    fake_run(tmp_path, "aws-g4dn", "c", wall=100.0, epoch_train=25.0, gpus=1, util=80.0)
    rows = {r["platform"]: r for r in compare([tmp_path], "laptop", out_dir=tmp_path / "report")}
    gpu, cpu = rows["aws-g4dn"], rows["laptop"]
    assert cpu["runs"] == 2 and cpu["total_sec"] == 420.0 and cpu["total_sec_spread"] == (400.0, 440.0)
    assert gpu["speedup_total"] == pytest.approx(420.0 / 100.0)
    assert gpu["speedup_epoch"] == pytest.approx(105.0 / 25.0)
    assert gpu["cost_per_run"] == pytest.approx(0.526 * 100.0 / 3600.0)  # $0.526 per node-hour
    assert gpu["mean_gpu_util_percent"] == 80.0
    for name in ("comparison.csv", "comparison.md", "time_per_epoch.png", "throughput.png", "utilisation.png",
                 "cost.png", "speedup.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert "| forecasting | aws-g4dn | 1 | T4 |" in (tmp_path / "report" / "comparison.md").read_text()
    # A user's own price replaces the shipped one.
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"aws-g4dn": {"price": {"amount": 1.0}}}))
    rows = {r["platform"]: r for r in compare([tmp_path / "laptop", tmp_path / "aws-g4dn"], "laptop",
                                              platforms_file=override)}
    assert rows["aws-g4dn"]["cost_per_run"] == pytest.approx(100.0 / 3600.0)


def test_compare_puts_the_metric_beside_the_reference_its_runs_recorded(tmp_path):
    fake_run(tmp_path, "laptop", "a", wall=400.0, epoch_train=100.0, reference=5.6)
    fake_run(tmp_path, "aws-g4dn", "c", wall=100.0, epoch_train=25.0, gpus=1, util=80.0)  # recorded none
    rows = {r["platform"]: r for r in compare([tmp_path], "laptop", out_dir=tmp_path / "report")}
    assert (rows["laptop"]["metric_reference"], rows["laptop"]["metric_reference_value"]) == ("persistence", 5.6)
    assert rows["aws-g4dn"]["metric_reference"] is None and rows["aws-g4dn"]["metric_value"] == 5.0
    table = (tmp_path / "report" / "comparison.md").read_text()
    assert "| mae_tmax 5 (persistence 5.6) |" in table and "| mae_tmax 5 |" in table
    assert "persistence" in (tmp_path / "report" / "comparison.csv").read_text().splitlines()[1]
    fake_run(tmp_path, "laptop", "b", wall=420.0, epoch_train=105.0)  # recorded none: no reference for the group
    rows = {r["platform"]: r for r in compare([tmp_path], "laptop")}
    assert rows["laptop"]["metric_reference"] is None and rows["laptop"]["metric_reference_value"] is None


def test_compare_refuses_speedup_across_different_data_or_config(tmp_path):
    fake_run(tmp_path, "laptop", "a", wall=400.0, epoch_train=100.0)
    fake_run(tmp_path, "delta", "b", wall=50.0, epoch_train=10.0, fingerprint="cd" * 32, gpus=1, util=90.0)
    fake_run(tmp_path, "anvil", "c", wall=40.0, epoch_train=8.0, width=512, gpus=1, util=95.0)
    rows = {r["platform"]: r for r in compare([tmp_path], "laptop")}
    assert rows["delta"]["speedup_total"] is None and "fingerprint" in rows["delta"]["note"]
    assert rows["anvil"]["speedup_total"] is None and "width" in rows["anvil"]["note"]
    # device and the like choose how a platform runs the workload: still comparable
    assert rows["laptop"]["comparable"]
    with pytest.raises(ConfigError, match="baseline"):
        compare([tmp_path], "alvis")


def test_validation_catches_schema_violations_and_tampering(tmp_path):
    d = fake_run(tmp_path, "laptop", "a", wall=10.0, epoch_train=2.0)
    assert validate_run(d) == []
    (d / "test_metrics.json").write_text(json.dumps({"rows": 10}))
    problems = validate_run(d)
    assert any("MANIFEST.sha256: test_metrics.json does not match" in p for p in problems)
    assert any(p.startswith("test_metrics.json") for p in problems)
    summary = json.loads((d / "run_summary.json").read_text())
    summary["training_sec"] = -1
    (d / "run_summary.json").write_text(json.dumps(summary))
    assert any("run_summary.json: training_sec" in p for p in validate_run(d))
    (d / "telemetry.csv").unlink()
    assert any("telemetry.csv: missing" in p for p in validate_run(d))


def test_platform_profiles_cover_the_spec_with_sourced_prices(tmp_path, monkeypatch):
    profiles = load_platforms()
    assert SPEC_PLATFORMS <= set(profiles)
    for name, p in profiles.items():
        assert p["price"]["source"] and p["price"]["per"] in ("node-hour", "gpu-hour"), name
        assert p["scheduler"] in ("shell", "slurm", "htcondor"), name
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps({"mycluster": {"kind": "HPC", "scheduler": "slurm", "accelerator": "L40S", "gpus": 1,
                                               "price": {"amount": 2.0, "per": "gpu-hour", "currency": "USD",
                                                         "source": "my invoice"}}}))
    monkeypatch.setenv("NAIRRCORE_PLATFORMS", str(extra))
    assert load_platforms()["mycluster"]["accelerator"] == "L40S"
    extra.write_text(json.dumps({"bad": {"price": {"amount": "cheap"}}}))
    with pytest.raises(ConfigError, match="bad"):
        load_platforms()


def test_training_phases_mark_the_loops_training_window_apart_from_validation(small_data):
    """The benchmarks' utilisation window: the real loop's marks on a sampler,
    training and validation of each epoch told apart, without a run folder."""
    from nairrcore import forecasting as fc
    from nairrcore.evidence.telemetry import TrainingPhases, train_gpu_util_samples

    class Marks:
        def __init__(self):
            self.seen = []

        @property
        def phase(self):
            return self.seen[-1]

        @phase.setter
        def phase(self, value):
            if not self.seen or self.seen[-1] != value:
                self.seen.append(value)

    marks = Marks()
    phases = TrainingPhases(marks)
    trainer = fc.Trainer(fc.ForecastConfig(width=32, depth=1, epochs=2, batch_size=4096, device="cpu"))
    trainer.fit(small_data, recorder=phases)
    assert marks.seen == ["train_epoch_0", "validation_epoch_0", "between_epochs",
                          "train_epoch_1", "validation_epoch_1", "between_epochs"]
    assert [e["epoch"] for e in phases.epochs] == [0, 1]
    rows = [{"phase": p, "gpu_util_percent": "0" if p.startswith("validation") else "90"} for p in marks.seen]
    assert train_gpu_util_samples(rows) == [90.0, 90.0]


def test_gpu_utilisation_needs_three_samples_in_the_training_window(tmp_path):
    from nairrcore.evidence.telemetry import mean_train_gpu_util

    def rows(n):
        return [{"phase": "train_epoch_1", "gpu_util_percent": "50"}] * n + [{"phase": "idle", "gpu_util_percent": "0"}]

    assert mean_train_gpu_util(rows(2)) is None
    assert mean_train_gpu_util(rows(3)) == 50.0
    # The committed H100 run of the small CIFAR-10 configuration trained for about one second:
    # one sample, recorded before samples were counted. The report leaves its utilisation out and says why.
    examples = REPO / "outputs" / "examples"
    rows_out = compare([examples / "laptop", examples / "workstation-gpu"], "laptop", tmp_path / "report", plots=False)
    gpu_cifar = next(r for r in rows_out if r["workload"] == "cifar10" and r["platform"] == "workstation-gpu")
    assert gpu_cifar["mean_gpu_util_percent"] is None
    assert "too few telemetry samples" in (tmp_path / "report" / "comparison.md").read_text()


ZEN4_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
cpu MHz\t\t: 2596.132

processor\t: 1
vendor_id\t: AuthenticAMD
"""


def test_the_cpu_generation_is_recorded_where_the_model_name_hides_it(tmp_path):
    assert cpu_id(ZEN4_CPUINFO) == {"vendor": "AuthenticAMD", "family": 25, "model": 17, "stepping": 1,
                                    "mhz": 2596, "microarchitecture": "Zen 4"}
    zen5 = ZEN4_CPUINFO.replace("cpu family\t: 25", "cpu family\t: 26").replace("model\t\t: 17", "model\t\t: 2")
    assert cpu_id(zen5)["microarchitecture"] == "Zen 5"
    sapphire = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Intel(R) Xeon(R) Processor\n"
    assert cpu_id(sapphire)["microarchitecture"] == "Sapphire Rapids"
    assert cpu_id("vendor_id\t: SomeVendor\ncpu family\t: 1\n")["microarchitecture"] is None
    assert cpu_id("")["family"] is None
    if Path("/proc/cpuinfo").exists() and "vendor_id" in Path("/proc/cpuinfo").read_text():
        assert isinstance(machine()["cpu_id"]["family"], int)

    d = fake_run(tmp_path, "laptop", "r1", wall=10, epoch_train=1)
    meta = json.loads((d / "run_metadata.json").read_text())
    meta["machine"] = {"cpu_model": "AMD EPYC", "cpu_isa": [], "cpu_count": 2, "gpu": None, "gpu_count": 0,
                       "cpu_id": cpu_id(ZEN4_CPUINFO)}
    write_json(d / "run_metadata.json", meta)
    write_manifest(d)
    assert validate_run(d) == []
    assert load_run(d).hardware == "CPU (AMD EPYC, Zen 4)"


@pytest.mark.slow
def test_git_state_names_the_commit_of_the_checkout_or_the_one_a_copy_was_made_from(monkeypatch):
    repo = REPO
    monkeypatch.delenv("NAIRRCORE_SOURCE_COMMIT", raising=False)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert git_state(repo)["commit"] == head.stdout.strip()
    # The GPU plan's machine runs a copy whose .git (if any) is not the sending side's.
    monkeypatch.setenv("NAIRRCORE_SOURCE_COMMIT", "46a207f")
    assert git_state(repo) == {"commit": "46a207f", "dirty": None, "from": "NAIRRCORE_SOURCE_COMMIT"}
