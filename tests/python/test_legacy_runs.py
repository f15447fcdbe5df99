"""Runs of the notebook workflow nairrcore replaces, read as they are
(tests/fixtures/legacy_runs: a CPU baseline, an H100 run whose benchmark row
names the wrong platform, an A100 run on other cities, a T4 run under a
platform name without a profile, and a V100 run with the published runs'
0-byte files)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from nairrcore.reports.collect import find_runs
from nairrcore.reports.compare import compare
from nairrcore.reports.plan import plan

from conftest import REPO

LEGACY = REPO / "tests" / "fixtures" / "legacy_runs" / "runs"


def test_legacy_runs_are_read_with_their_platform_configuration_and_limitations():
    runs = {r.platform: r for r in find_runs([LEGACY])}
    assert sorted(runs) == ["anvil", "aws", "bridges2", "delta", "jetstream2"]
    anvil = runs["anvil"]
    assert anvil.legacy and anvil.device == "cuda" and anvil.hardware == "NVIDIA H100 80GB HBM3"
    assert anvil.hyperparameters["cities"] == 25 and anvil.hyperparameters["windows"] == (7,)
    assert anvil.metrics["headline"] == {"name": "mae_tmax", "value": 2.41, "lower_is_better": True}
    # utilisation recomputed over the training window (40%), not the whole job (22%)
    assert anvil.summary["mean_gpu_util_train_percent"] == pytest.approx(40.0)
    assert anvil.contradictions == ["benchmark_row.csv says platform 'Delta', run_metadata.json 'Anvil'"]
    assert any("epoch time includes validation" in x for x in anvil.limitations)
    assert any("no dataset fingerprint" in x for x in anvil.limitations)
    assert runs["jetstream2"].hardware == "CPU" and runs["jetstream2"].summary["mean_gpu_util_train_percent"] is None
    assert runs["delta"].summary["mean_gpu_util_train_percent"] == pytest.approx(50.0)
    assert "whole job" in " ".join(runs["delta"].limitations)  # no window: said so


def test_compare_on_legacy_runs_recomputes_and_reports_what_it_cannot_verify(tmp_path):
    rows = {r["platform"]: r for r in compare([LEGACY], "jetstream2", out_dir=tmp_path, plots=False)}
    anvil, delta = rows["anvil (legacy workflow)"], rows["delta (legacy workflow)"]
    assert anvil["speedup_total"] == pytest.approx(300.0 / 9.6) and anvil["comparable"]
    assert anvil["epoch_sec"] == pytest.approx(4.8) and anvil["mean_gpu_util_percent"] == pytest.approx(40.0)
    assert "configuration not verified" in anvil["note"] and "says platform 'Delta'" in anvil["note"]
    assert delta["speedup_total"] is None and "cities" in delta["note"]
    text = (tmp_path / "comparison.md").read_text()
    assert "configuration not verified" in text and "epoch time includes validation" in text


def test_legacy_runs_never_compare_silently_with_nairrcore_runs(tmp_path):
    # a nairrcore run folder beside the legacy tree, under the baseline's platform
    ours = tmp_path / "outputs" / "jetstream2" / "forecasting" / "r1"
    shutil.copytree(next((REPO / "outputs" / "examples" / "laptop" / "forecasting").iterdir()), ours)
    summary = (ours / "run_summary.json").read_text().replace('"laptop"', '"jetstream2"')
    (ours / "run_summary.json").write_text(summary)
    meta = (ours / "run_metadata.json").read_text().replace('"laptop"', '"jetstream2"')
    (ours / "run_metadata.json").write_text(meta)
    rows = {r["platform"]: r for r in compare([LEGACY, tmp_path / "outputs"], "jetstream2",
                                              out_dir=tmp_path / "report", plots=False)}
    # two separate rows for the baseline platform; the legacy H100 run against the legacy baseline only
    assert rows["jetstream2"]["runs"] == 1 and rows["jetstream2 (legacy workflow)"]["runs"] == 1
    assert rows["jetstream2"]["speedup_total"] == 1.0
    assert rows["anvil (legacy workflow)"]["speedup_total"] == pytest.approx(300.0 / 9.6)
    assert "configuration not verified" in rows["anvil (legacy workflow)"]["note"]


@pytest.mark.slow
def test_plan_and_the_command_line_read_the_legacy_tree(tmp_path):
    rows = {r["platform"]: r for r in plan([LEGACY], runs=10, epochs=50)}
    anvil = rows["anvil (legacy workflow)"]
    assert anvil["sec_per_epoch"] == pytest.approx(4.8)
    assert any("no dataset fingerprint" in x for x in anvil["limitations"])
    out = subprocess.run([sys.executable, "-m", "nairrcore", "report", "compare", str(LEGACY), "--baseline",
                          "jetstream2", "--out", str(tmp_path), "--no-plots"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| anvil (legacy workflow) | 1 | NVIDIA H100 80GB HBM3 |" in out.stdout
