"""Strong and weak scaling of data-parallel training, measured in one run:
1..N processes launched by torchrun (Gloo on CPU here; on a cluster the
Slurm scripts launch the same command with NCCL). Efficiencies use the spec's
formulas on these measurements: strong (fixed global batch) E(N) = T(1) / (N T(N))
with T the training time of an epoch; weak (fixed batch per process)
E(N) = t(1) / t(N) with t the time per step. Prints JSON, writes a plot.

    python bench/scaling.py --data USdata/ --procs 1 2 [--out bench/results/scaling-x]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

import nairrcore
from nairrcore.evidence.environment import git_state, machine

REPO = Path(__file__).resolve().parents[1]


def run(workload: str, procs: int, params: list[str]) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", str(procs), "--master_port",
               str(port), "-m", "nairrcore", "train", workload, "--quiet", "--no-record", "--distributed", "--timeout", "120",
               "--checkpoint-dir", tmp, "--resume", "never"]
        for p in params:
            cmd += ["--param", p]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    history = json.loads(out.stdout.strip().splitlines()[-1])["history"]
    timed = history[1:] or history  # the first epoch includes warm-up
    train_sec = sum(h["train_sec"] for h in timed) / len(timed)
    samples = timed[0]["train_samples"]
    return {"procs": procs, "epoch_train_sec": train_sec, "samples_per_sec": samples / train_sec,
            "epochs_timed": len(timed), "samples_per_epoch": samples,
            "rank_train_sec": timed[-1].get("rank_train_sec"), "final_train_loss": history[-1]["train_loss"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cities", type=int, default=20)
    p.add_argument("--batch", type=int, default=1024, help="global batch (strong) / per-process batch (weak)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", help="path prefix for .json and .png")
    args = p.parse_args()
    base = [f"data={args.data}", f"cities={args.cities}", "width=512", "depth=4", f"epochs={args.epochs}",
            "device=cpu", "dropout=0"]
    strong = [run("forecasting", n, base + [f"batch_size={args.batch}"]) for n in args.procs]
    weak = [run("forecasting", n, base + [f"batch_size={args.batch * n}"]) for n in args.procs]
    t1 = strong[0]["epoch_train_sec"]
    for r in strong:
        r["speedup"] = t1 / r["epoch_train_sec"]
        r["efficiency"] = t1 / (r["procs"] * r["epoch_train_sec"])
    for r in weak:
        steps = math.ceil(r["samples_per_epoch"] / (args.batch * r["procs"]))
        r["sec_per_step"] = r["epoch_train_sec"] / steps
    s1 = weak[0]["sec_per_step"]
    for r in weak:
        r["efficiency"] = s1 / r["sec_per_step"]
        r["step_time_growth"] = r["sec_per_step"] / s1 - 1
    result = {"benchmark": "scaling", "workload": "forecasting MLP (width 512, depth 4)", "backend": "gloo",
              "machine": machine(), "git": git_state(REPO),
              "versions": {"nairrcore": nairrcore.__version__, "torch": torch.__version__},
              "config": {"cities": args.cities, "batch": args.batch, "epochs": args.epochs},
              "formulas": {"strong": "E(N) = T(1) / (N * T(N)), T = training time per epoch, fixed global batch",
                           "weak": "E(N) = t(1) / t(N), t = time per step, fixed per-process batch"},
              "strong": strong, "weak": weak}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from nairrcore.files import write_text

        write_text(args.out + ".json", text + "\n")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r["procs"] for r in strong], [r["efficiency"] for r in strong], "o-", label="strong")
        ax.plot([r["procs"] for r in weak], [r["efficiency"] for r in weak], "s-", label="weak")
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set(xlabel="processes", ylabel="efficiency", title="Data-parallel scaling (Gloo, CPU)",
               xticks=[r["procs"] for r in strong], ylim=(0, 1.1))
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    main()
