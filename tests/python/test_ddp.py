"""Data parallel through c10d with Gloo on CPU processes, on real data:
launched by torchrun and by srun; equal to one process with the same global
batch; a dead peer is an error, not a hang."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import CIFAR_DIR, REPO, wait_for_job

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow

FORECAST = ["cities=2", "width=64", "depth=2", "dropout=0", "batch_size=512", "epochs=2", "device=cpu"]
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_args(workload, params, model, *extra):
    args = ["-m", "nairrcore", "train", workload, "--quiet", "--save-model", str(model), *extra]
    for p in params:
        args += ["--param", p]
    return args


def _state(path):
    return torch.load(path, weights_only=True)["state_dict"]


def _history(stdout: str) -> list[dict]:
    return json.loads(stdout.strip().splitlines()[-1])["history"]


@pytest.fixture
def forecast_params(weather_dir):
    return FORECAST + [f"data={weather_dir}"]


def test_torchrun_two_ranks_equal_one_process(forecast_params, tmp_path):
    cmd = [TORCHRUN, "--nproc_per_node", "2", "--master_port", str(_free_port()),
           *_train_args("forecasting", forecast_params, tmp_path / "m{rank}.pt", "--distributed", "--timeout", "60")]
    ddp = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run([sys.executable, *_train_args("forecasting", forecast_params, tmp_path / "one.pt")],
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    r0, r1, one = _state(tmp_path / "m0.pt"), _state(tmp_path / "m1.pt"), _state(tmp_path / "one.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # every rank holds the same parameters
    for k in r0:
        torch.testing.assert_close(r0[k], one[k], rtol=1e-3, atol=1e-4)
    h_ddp, h_one = _history(ddp.stdout), _history(single.stdout)
    for a, b in zip(h_ddp, h_one):
        # global samples, not per rank: DistributedSampler padding repeats one row for an odd count
        assert a["train_samples"] == b["train_samples"] + b["train_samples"] % 2
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        assert len(a["rank_train_sec"]) == 2


def test_torchrun_cifar_resnet_ranks_stay_identical(tmp_path):
    # ResNet-18 (the scaling study's model): 4 steps of a global batch of 16
    params = ["model=resnet18", "train_limit=96", "val_size=32", "test_limit=32", "batch_size=16", "epochs=1",
              "device=cpu", f"data={CIFAR_DIR}"]
    cmd = [TORCHRUN, "--nproc_per_node", "2", "--master_port", str(_free_port()),
           *_train_args("cifar10", params, tmp_path / "m{rank}.pt", "--distributed", "--timeout", "60",
                        "--all-ranks-print")]
    ddp = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    r0, r1 = _state(tmp_path / "m0.pt"), _state(tmp_path / "m1.pt")
    params_only = [k for k in r0 if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(r0[k], r1[k]) for k in params_only)
    lines = [json.loads(line) for line in ddp.stdout.strip().splitlines()]
    assert sorted(r["rank"] for r in lines) == [0, 1]  # one whole line per rank
    accs = {r["history"][-1]["val_accuracy"] for r in lines}
    assert len(accs) == 1  # evaluation reduced over both ranks


def test_torchrun_cifar_resnet_with_sync_batch_norm_equals_one_process(tmp_path):
    """2 ranks x 8 images with BatchNorm statistics over both ranks train like
    one process with batches of 16: the same loss at every step (one step per
    epoch) within float32 noise. The tolerance is the size of the difference
    one process shows between 1 and 2 threads; per-rank statistics miss it."""
    params = ["model=resnet18", "train_limit=48", "val_size=32", "test_limit=32", "batch_size=16", "epochs=3",
              "lr=0.002", "bias_lr=0.002", "device=cpu", f"data={CIFAR_DIR}"]

    def ddp(sync: bool, name: str):
        cmd = [TORCHRUN, "--nproc_per_node", "2", "--master_port", str(_free_port()),
               *_train_args("cifar10", params + [f"sync_batch_norm={sync}"], tmp_path / (name + "{rank}.pt"),
                            "--distributed", "--timeout", "60")]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        return _history(run.stdout), _state(tmp_path / f"{name}0.pt"), _state(tmp_path / f"{name}1.pt")

    single = subprocess.run([sys.executable, *_train_args("cifar10", params, tmp_path / "one.pt")],
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    h_one, one = _history(single.stdout), _state(tmp_path / "one.pt")
    h_sync, r0, r1 = ddp(True, "sync")
    h_local, local, _ = ddp(False, "local")

    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # running statistics included
    assert [h["train_samples"] for h in h_sync] == [h["train_samples"] for h in h_one] == [16] * 3
    for a, b in zip(h_sync, h_one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)
    assert max((r0[k].double() - one[k].double()).abs().max().item() for k in one) < 1e-3
    # per-rank statistics: a different trajectory, which the tolerance above does not hide
    assert max(abs(a["train_loss"] / b["train_loss"] - 1) for a, b in zip(h_local, h_one)) > 5e-3
    assert max((local[k].double() - one[k].double()).abs().max().item() for k in one) > 1e-2


def test_srun_two_tasks_under_slurm(slurm, forecast_params, tmp_path):
    args = " ".join(_train_args("forecasting", forecast_params, tmp_path / "m{rank}.pt", "--distributed",
                                "--timeout", "60"))
    script = tmp_path / "ddp.sbatch"
    script.write_text("\n".join([
        "#!/bin/bash", "#SBATCH --job-name=nairrcore-ddp", "#SBATCH --ntasks=2", "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=4G", "#SBATCH --time=00:10:00", f"#SBATCH --output={tmp_path}/ddp-%j.out",
        f"cd {REPO}", f"srun {sys.executable} {args}", ""]))
    sub = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip().split(";")[0]
    state = wait_for_job(job)
    log = (tmp_path / f"ddp-{job}.out").read_text()
    assert state == "COMPLETED", log[-3000:]
    r0, r1 = _state(tmp_path / "m0.pt"), _state(tmp_path / "m1.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert len(_history(log.strip().splitlines()[-1])[-1]["rank_train_sec"]) == 2


def test_a_dead_peer_is_a_clear_error_within_the_timeout(forecast_params, tmp_path):
    port = str(_free_port())
    long_run = [p for p in forecast_params if not p.startswith(("epochs", "batch_size", "width"))]
    long_run += ["epochs=200", "batch_size=64", "width=256"]
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=port)
        ck = tmp_path / f"ck{rank}"
        procs.append(subprocess.Popen([sys.executable, *_train_args("forecasting", long_run, tmp_path / "m.pt",
                                                                     "--distributed", "--timeout", "20",
                                                                     "--checkpoint-dir", str(ck),
                                                                     "--checkpoint-every-steps", "20")],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 120
    while not list((tmp_path / "ck0").glob("ckpt-*.sha256")) and time.time() < deadline:
        time.sleep(0.1)  # training is under way once rank 0 has checkpointed
    assert procs[0].poll() is None, procs[0].communicate()[1][-2000:]
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    t0 = time.time()
    _, err = procs[0].communicate(timeout=120)
    assert procs[0].returncode not in (0, None)
    assert time.time() - t0 < 60
    assert "distributed:" in err and "rank 0 of 2" in err, err[-2000:]
    shutil.rmtree(tmp_path / "ck0", ignore_errors=True)


def test_gradient_accumulation_over_ranks_equals_one_big_batch(forecast_params, tmp_path):
    """2 ranks x 2 micro-batches of 256 (sync on the second) = one process, batch 512."""
    small = [p for p in forecast_params if not p.startswith("batch_size")]
    cmd = [TORCHRUN, "--nproc_per_node", "2", "--master_port", str(_free_port()),
           *_train_args("forecasting", small + ["batch_size=256", "accumulate=2"], tmp_path / "m{rank}.pt",
                        "--distributed", "--timeout", "60")]
    ddp = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = subprocess.run([sys.executable, *_train_args("forecasting", small + ["batch_size=512"], tmp_path / "one.pt")],
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    r0, r1, ref = _state(tmp_path / "m0.pt"), _state(tmp_path / "m1.pt"), _state(tmp_path / "one.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    for k in r0:
        torch.testing.assert_close(r0[k], ref[k], rtol=1e-3, atol=1e-4)
