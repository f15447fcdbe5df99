"""What the runner's outside sampling costs a plain notebook: the same CPU
notebook (notebooks/weather_pandas.ipynb, training about a minute) under
``nairrcore run`` with and without the sampler, alternating, in one run.
Prints JSON with each run's wall time, the medians, the overhead and each
pair's difference; and, as a bound that no machine noise blurs, the CPU
time the sampler spends on one sample of a process tree (it samples once a
second).

    python bench/runner_overhead.py --data USdata/ [--pairs 3 --epochs 4] [--out x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from nairrcore._native import core as _core
from nairrcore.evidence.environment import git_state, machine
from nairrcore.execute import run_notebook
from emit import emit  # bench/emit.py, beside this script

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "weather_pandas.ipynb"


def wall(run_dir: Path) -> float:
    return json.loads((run_dir / "run_summary.json").read_text())["wall_sec"]


def sampler_cpu_sec_per_sample(samples: int = 500) -> float:
    """CPU seconds one sample of this process's tree costs the sampler (all of /proc is walked)."""
    sampler = _core.TelemetrySampler(3600.0, os.getpid())
    sampler.start()
    c0 = time.process_time()
    for _ in range(samples):
        sampler.sample_now()
    cost = (time.process_time() - c0) / samples
    sampler.stop()
    return cost


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the USdata folder")
    p.add_argument("--cities", type=int, default=10)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args()
    params = [f"data_dir={args.data}", f"cities={args.cities}", f"epochs={args.epochs}"]
    runs = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for sample in ((True, False) if i % 2 == 0 else (False, True)):
                run_dir = run_notebook(NOTEBOOK, params=params, out=Path(tmp), quiet=True, sample=sample)
                runs[sample].append(wall(run_dir))
    on, off = statistics.median(runs[True]), statistics.median(runs[False])
    pairs = [a / b - 1 for a, b in zip(runs[True], runs[False])]
    per_sample = sampler_cpu_sec_per_sample()
    result = {"benchmark": "runner_overhead", "config": vars(args), "machine": machine(), "git": git_state(REPO),
              "wall_sec_sampled": runs[True], "wall_sec_unsampled": runs[False],
              "median_sampled_sec": on, "median_unsampled_sec": off, "overhead": on / off - 1,
              "spread_unsampled": (max(runs[False]) - min(runs[False])) / off, "pair_overheads": pairs,
              "sampler_cpu_ms_per_sample": per_sample * 1e3,
              "sampler_cpu_fraction_of_one_core": per_sample / 1.0,  # one sample a second
              "target_overhead": 0.01}
    emit(result, args.out)


if __name__ == "__main__":
    main()
