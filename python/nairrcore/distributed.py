"""Data-parallel set-up: one process per GPU (or CPU process), started by
torchrun or srun. ``init()`` reads rank, world size and the rendezvous
address from either launcher's environment, creates the c10d process group
through torch.distributed (TCPStore rendezvous; NCCL with CUDA, Gloo on CPU)
and hands it to the C++ loops; trainers take it as ``group=``."""

from __future__ import annotations

import datetime as _dt
import os

import torch
import torch.distributed as td

from nairrcore._native import core as _core
from nairrcore.errors import ConfigError


def launch_env() -> dict:
    """rank, world_size, local_rank, master_addr, master_port, launcher."""
    return dict(_core.launch_env())


def init(timeout_sec: float = 300.0, backend: str | None = None, device: str = "auto") -> "_core.Group":
    """Joins the job's process group (a no-op group of one without a launcher).
    A peer that never arrives, or dies later, raises an error naming the rank
    within ``timeout_sec`` instead of hanging."""
    env = launch_env()
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend not in ("nccl", "gloo"):
        raise ConfigError(f"backend: expected nccl or gloo, got {backend!r}")
    if use_cuda:
        torch.cuda.set_device(env["local_rank"] % max(torch.cuda.device_count(), 1))
    if not td.is_initialized():
        # torch.distributed's env:// rendezvous reads the torchrun spellings;
        # under srun they come from SLURM_* via launch_env().
        os.environ.update(RANK=str(env["rank"]), WORLD_SIZE=str(env["world_size"]),
                          LOCAL_RANK=str(env["local_rank"]), MASTER_ADDR=env["master_addr"],
                          MASTER_PORT=str(env["master_port"]))
        try:
            td.init_process_group(backend, timeout=_dt.timedelta(seconds=timeout_sec))
        except Exception as exc:  # noqa: BLE001 - torch raises several types here
            raise _core.DistError(
                f"distributed: rank {env['rank']} of {env['world_size']} could not join the group at "
                f"{env['master_addr']}:{env['master_port']} within {timeout_sec:.0f} s ({exc})") from exc
    name = td.distributed_c10d._get_default_group().group_name
    return _core.Group(name, timeout_sec)
