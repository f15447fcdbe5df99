"""The machine's speed before, between and after the two sides of a comparison.

A benchmark runs its baseline and nairrcore one after the other. On a shared
machine the speed can change in between: on the 2-vCPU CI machine the same
build's training step ranged from 66 to 83 ms within one hour. A ratio measured
across such a change belongs to the machine, not to the code. So a fixed fp32
matrix workload is timed at each point, and the result records those times,
their spread, and `steady: false` when the spread exceeds 10%. Of several
rounds, a steady one stands for the run (median_round()).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

PROBE = "median of 5 runs of 10 fp32 CPU products [2048 x 1024] @ [1024 x 1024] (torch.mm)"
LIMIT = 0.10


def probe_sec() -> float:
    """Seconds for the probe workload now."""
    a, b = torch.randn(2048, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def steadiness(points: dict[str, float]) -> dict:
    """The probe's times at named points of a run, their spread (slowest over
    fastest, minus 1), and whether it stayed within LIMIT; warns on stderr when not."""
    spread = max(points.values()) / min(points.values()) - 1
    result = {"probe": PROBE, "sec": points, "spread": spread, "limit": LIMIT, "steady": spread <= LIMIT}
    if not result["steady"]:
        print(f"warning: the machine's speed changed by {spread:.0%} during the comparison "
              f"({', '.join(f'{k} {v:.3f} s' for k, v in points.items())}); its ratios are not reliable",
              file=sys.stderr)
    return result


def median_round(rounds: list[dict], key) -> tuple[dict, str]:
    """The round that stands for a run of several: the median by key(round)
    (the lower median of an even count) among the steady rounds, or among all
    of them when none was steady; and which of the two it was taken from. A
    round whose machine slowed under one side has a ratio that is not the
    code's, so it is left out whenever a steady one exists."""
    steady = [r for r in rounds if r["steadiness"]["steady"]]
    pool = sorted(steady or rounds, key=key)
    return pool[(len(pool) - 1) // 2], ("steady rounds" if steady else "all rounds (none steady)")
