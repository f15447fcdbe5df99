"""Allocation planning: the GPU-hours (or node-hours) and cost of a campaign
of R runs of E epochs on each measured platform, from run folders."""

from __future__ import annotations

import statistics
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.evidence.compare import find_runs
from nairrcore.evidence.platforms import load_platforms


def plan(run_paths: list[str | Path], runs: int, epochs: int, platforms_file: str | Path | None = None) -> list[dict]:
    """Per workload and platform: hours per run = (fixed time + epochs x time
    per epoch) / 3600, where time per epoch (train + validation) and the fixed
    time (data preparation, start-up: wall time minus the epochs) are medians
    of the measured runs; campaign = runs x that, in the price's unit."""
    if runs < 1 or epochs < 1:
        raise ConfigError("plan: --runs and --epochs must be >= 1")
    profiles = load_platforms(platforms_file)
    groups: dict[tuple[str, str], list] = {}
    for r in find_runs(run_paths):
        if r.summary.get("status") == "completed" and r.epochs:
            groups.setdefault((r.workload, r.platform), []).append(r)
    rows = []
    for (workload, platform), members in sorted(groups.items()):
        profile = profiles.get(platform)
        if profile is None:
            raise ConfigError(f"plan: platform {platform!r} has no profile (add it with --platforms)")
        per_epoch = statistics.median(
            statistics.fmean(float(e["epoch_sec"]) for e in r.epochs) for r in members)
        fixed = statistics.median(
            max(0.0, float(r.summary["wall_sec"]) - sum(float(e["epoch_sec"]) for e in r.epochs)) for r in members)
        hours = (fixed + epochs * per_epoch) / 3600.0
        gpus = max(int((members[0].metadata.get("gpu") or {}).get("count") or profile.get("gpus", 0)), 1)
        price = profile["price"]
        unit_hours = hours * (gpus if price["per"] == "gpu-hour" else 1)
        rows.append({
            "workload": workload, "platform": platform, "accelerator": profile.get("accelerator"),
            "measured_runs": len(members), "measured_epochs": [len(r.epochs) for r in members],
            "sec_per_epoch": per_epoch, "fixed_sec": fixed, "hours_per_run": hours,
            "campaign_runs": runs, "campaign_epochs": epochs,
            "campaign_units": runs * unit_hours, "unit": price["per"],
            "campaign_cost": runs * unit_hours * price["amount"], "currency": price["currency"],
            "price_source": price.get("source"), "runs_used": [str(r.path) for r in members],
        })
    if not rows:
        raise ConfigError("plan: no completed runs with epoch timings found")
    return rows


def markdown(rows: list[dict]) -> str:
    head = ["workload", "platform", "accelerator", "s/epoch (measured)", "fixed s", "h/run", "campaign",
            "cost"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            r["workload"], r["platform"], r["accelerator"] or "–", f"{r['sec_per_epoch']:.3g}",
            f"{r['fixed_sec']:.3g}", f"{r['hours_per_run']:.3g}",
            f"{r['campaign_units']:.3g} {r['unit']}s", f"{r['campaign_cost']:.3g} {r['currency']}"]) + " |")
    r0 = rows[0]
    lines += ["", f"Campaign: {r0['campaign_runs']} runs x {r0['campaign_epochs']} epochs. Time per epoch "
                  "(train + validation) and fixed time (wall minus epochs) are medians of the measured runs:"]
    for r in rows:
        lines.append(f"- {r['workload']} on {r['platform']}: {r['measured_runs']} run(s) "
                     f"({', '.join(Path(p).name for p in r['runs_used'])}); price: {r['price_source']}")
    return "\n".join(lines) + "\n"
