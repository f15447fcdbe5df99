"""Preemption on real data: SIGTERM mid-run -> checkpoint and exit code 85;
the resumed run ends with parameters bitwise identical to an uninterrupted one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nairrcore.training.checkpoint import CheckpointManager

from conftest import CIFAR_DIR

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

WORKLOADS = {
    # case: (workload, params)
    "forecasting": ("forecasting", ["cities=3", "width=256", "depth=4", "batch_size=64", "epochs=3", "device=cpu"]),
    "cifar10": ("cifar10", ["model=fastnet", "widths=16,32,32", "train_limit=2000", "test_limit=200",
                            "batch_size=100", "epochs=6", "device=cpu", f"data={CIFAR_DIR}"]),
    # On a GPU each run captures its step in a CUDA graph after three eager
    # steps, so the resumed run replays steps the first one ran eagerly.
    "forecasting-cuda": ("forecasting", ["cities=3", "width=256", "depth=4", "batch_size=256", "epochs=3",
                                         "device=cuda", "precision=bf16"]),
}
CASES = [pytest.param(c, marks=[pytest.mark.cuda] if c.endswith("cuda") else []) for c in WORKLOADS]


def command(workload: str, params: list[str], ckpt: Path, model: Path) -> list[str]:
    cmd = [sys.executable, "-m", "nairrcore", "train", workload, "--quiet", "--checkpoint-dir", str(ckpt),
           "--checkpoint-every-steps", "5", "--save-model", str(model)]
    for p in params:
        cmd += ["--param", p]
    return cmd


@pytest.mark.parametrize("case", CASES)
def test_sigterm_checkpoint_resume_is_bitwise_identical(case, weather_dir, tmp_path):
    workload, params = WORKLOADS[case]
    if workload == "forecasting":
        params = params + [f"data={weather_dir}"]
    ref = subprocess.run(command(workload, params, tmp_path / "ref_ckpt", tmp_path / "ref.pt"),
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]
    total_steps = CheckpointManager(tmp_path / "ref_ckpt").latest()[0]["steps"]

    ckpt, model = tmp_path / "ckpt", tmp_path / "model.pt"
    proc = subprocess.Popen(command(workload, params, ckpt, model), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    while not list(ckpt.glob("ckpt-*.pt.sha256")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 85, err[-2000:]
    assert "SIGTERM" in err and not model.exists()
    state, _ = CheckpointManager(ckpt).latest()
    assert 0 < state["steps"] < total_steps  # stopped mid-run

    resumed = subprocess.run(command(workload, params, ckpt, model), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(tmp_path / "ref.pt", weights_only=True)["state_dict"]
    b = torch.load(model, weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    m = CheckpointManager(tmp_path, keep=2)
    m.save({"steps": 1}, 1)
    newest = m.save({"steps": 2}, 2)
    newest.write_bytes(newest.read_bytes()[:-10])  # a partial write
    with pytest.warns(UserWarning, match="checksum mismatch"):
        state, path = m.latest()
    assert state["steps"] == 1 and path.name == "ckpt-000000001.pt"
    m.save({"steps": 3}, 3)
    assert [p.name for p in m.checkpoints()] == ["ckpt-000000003.pt", "ckpt-000000002.pt"]  # keep=2
