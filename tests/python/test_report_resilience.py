"""One bad folder never sinks a report: for every file a report reads and
every way it can be broken (empty, cut short, not an object, not UTF-8,
not numbers), ``compare``, ``plan`` and ``jobs summary`` report on the runs
they can read and list the broken folder or file with its reason; only
``--strict`` makes it an error. The published runs of the workflow nairrcore
replaces (with their 0-byte files) give a report of all five platforms."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nairrcore.errors import ConfigError
from nairrcore.jobs.sweep import summarize
from nairrcore.reports.compare import compare
from nairrcore.reports.plan import plan

from conftest import REPO

EXAMPLES = sorted((REPO / "outputs" / "examples" / "laptop" / "forecasting").iterdir())
LEGACY = REPO / "tests" / "fixtures" / "legacy_runs" / "runs"
FILES = ["run_summary.json", "run_metadata.json", "test_metrics.json", "epoch_timing.csv", "telemetry.csv",
         "run_config.json"]
BREAKS = {"empty": b"", "cut short": b'{"status": "comp', "not an object": b"[1, 2]", "not UTF-8": b"\xff\xfe\x00a",
          "not numbers": b"epoch,train_sec,epoch_sec\n0,fast,slow\n"}


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    """Two good runs (laptop, jetstream2) and a third jetstream2 copy to break."""
    root = tmp_path / "outputs"
    for platform, source, name in (("laptop", EXAMPLES[0], "a"), ("jetstream2", EXAMPLES[1], "b"),
                                   ("jetstream2", EXAMPLES[1], "c")):
        dest = root / platform / "forecasting" / name
        shutil.copytree(source, dest)
        for f in ("run_summary.json", "run_metadata.json"):
            (dest / f).write_text((dest / f).read_text().replace('"laptop"', f'"{platform}"'))
    return root, root / "jetstream2" / "forecasting" / "c"


@pytest.mark.parametrize("broken", FILES)
@pytest.mark.parametrize("how", sorted(BREAKS))
def test_a_broken_file_leaves_its_run_out_and_the_report_stands(tmp_path, broken, how):
    root, bad = _runs(tmp_path)
    (bad / broken).write_bytes(BREAKS[how])
    rows = compare([root], "laptop", out_dir=tmp_path / "report", plots=False)
    counted = sum(r["runs"] for r in rows)
    listed = [n for n in rows[0]["left_out"] if str(bad) in n]
    assert counted + bool(listed) == 3, (counted, rows[0]["left_out"])  # every run counted or listed, once
    assert {r["platform"] for r in rows} == {"laptop", "jetstream2"}
    if listed:
        assert str(bad) in (tmp_path / "report" / "comparison.md").read_text()
        with pytest.raises(ConfigError, match="--strict: left out"):
            compare([root], "laptop", plots=False, strict=True)
    planned = plan([root], runs=2, epochs=3)
    assert {r["platform"] for r in planned} == {"laptop", "jetstream2"}
    assert bool([n for n in planned[0]["left_out"] if str(bad) in n]) == bool(listed)
    left_out: list[str] = []
    assert len(summarize([root], tmp_path / "summary", left_out=left_out)) == 3 - bool(listed)


@pytest.mark.slow
def test_the_command_line_lists_what_it_left_out_and_exits_0_or_2_with_strict(tmp_path):
    root, bad = _runs(tmp_path)
    (bad / "run_metadata.json").write_bytes(b"")
    base = [sys.executable, "-m", "nairrcore", "report", "compare", str(root), "--baseline", "laptop", "--out",
            str(tmp_path / "report"), "--no-plots"]
    out = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and f"{bad}: run_metadata.json: not valid JSON" in out.stderr
    assert "| forecasting | jetstream2 | 1 |" in out.stdout
    strict = subprocess.run([*base, "--strict"], capture_output=True, text=True, timeout=120)
    assert strict.returncode == 2 and "--strict: left out" in strict.stderr
    nothing = tmp_path / "nothing" / "laptop" / "forecasting" / "x"
    shutil.copytree(EXAMPLES[0], nothing)
    (nothing / "run_summary.json").write_bytes(b"")
    out = subprocess.run([*base[:5], str(tmp_path / "nothing"), *base[6:]], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "run_summary.json" in out.stderr  # nothing to compare: an error


def test_the_published_runs_with_their_empty_files_give_all_five_platforms(tmp_path):
    rows = compare([LEGACY], "jetstream2", out_dir=tmp_path, plots=False)
    platforms = {r["platform"].removesuffix(" (legacy workflow)") for r in rows}
    assert platforms == {"jetstream2", "aws", "bridges2", "delta", "anvil"}
    assert all("configuration not verified" in r["note"] for r in rows)
    left = rows[0]["left_out"]
    for empty in ("bridges2_run_metadata.json", "benchmark_row.csv", "gpu_metrics.csv"):
        assert any(empty in n and "bridges2" in n and "empty file" in n for n in left), (empty, left)
    bridges2 = next(r for r in rows if r["platform"].startswith("bridges2"))
    assert bridges2["cost_per_run"] is None and bridges2["mean_gpu_util_percent"] is None
    assert "hardware not recorded" in bridges2["note"]
    text = (tmp_path / "comparison.md").read_text()
    assert "bridges2_run_metadata.json: empty file (0 bytes)" in text
