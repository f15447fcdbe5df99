"""Allocation planning: the GPU-hours (or node-hours) and cost of a campaign
of R runs of E epochs on each measured platform, from run folders."""

from __future__ import annotations

import statistics
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.platforms import co2e_kg, load_platforms, run_cost
from nairrcore.reports.collect import find_runs
from nairrcore.reports.runs import check_strict, completed, hardware_contradiction


def plan(run_paths: list[str | Path], runs: int, epochs: int, platforms_file: str | Path | None = None,
         strict: bool = False) -> list[dict]:
    """Per workload and platform: hours per run = (fixed time + epochs x time
    per epoch) / 3600, where time per epoch (train + validation) and the fixed
    time (data preparation, start-up: wall time minus the epochs) are medians
    of the measured runs; campaign = runs x that, in the price's unit. A
    plain run that recorded no epochs is planned as whole runs: hours per
    run = its median wall time, whatever ``epochs`` says."""
    if runs < 1 or epochs < 1:
        raise ConfigError("plan: --runs and --epochs must be >= 1")
    profiles = load_platforms(platforms_file)
    skipped: list[str] = []
    measured, left_out = completed(find_runs(run_paths, skipped), skipped)
    groups: dict[tuple[str, str, bool], list] = {}
    for r in measured:
        if r.epochs or r.plain:
            groups.setdefault((r.workload, r.platform, r.legacy), []).append(r)
    rows = []
    for (workload, platform, legacy), members in sorted(groups.items()):
        profile = profiles.get(platform)
        if profile is None:
            left_out.append(f"{', '.join(str(r.path) for r in members)}: platform {platform!r} has no profile "
                            "(add it with --platforms); left out of the plan")
            continue
        contradictions = sorted({c for r in members if (c := hardware_contradiction(r, profile))})
        if contradictions:
            left_out.append(f"{platform} runs cannot price that platform: {'; '.join(contradictions)}; left out")
            continue
        whole_runs = not all(r.epochs for r in members)
        if whole_runs:
            per_epoch = fixed = None
            hours = statistics.median(float(r.summary["wall_sec"]) for r in members) / 3600.0
        else:
            per_epoch = statistics.median(
                statistics.fmean(float(e["epoch_sec"]) for e in r.epochs) for r in members)
            fixed = statistics.median(
                max(0.0, float(r.summary["wall_sec"]) - sum(float(e["epoch_sec"]) for e in r.epochs))
                for r in members)
            hours = (fixed + epochs * per_epoch) / 3600.0
        gpus = members[0].gpus
        price = profile["price"]
        unit_hours = hours * (max(gpus or profile.get("gpus", 1), 1) if price["per"] == "gpu-hour" else 1)
        cost = run_cost(profile, hours * 3600.0, gpus)
        kwh = campaign_kwh(members, hours, runs)
        rows.append({
            "workload": workload, "platform": platform + (" (legacy workflow)" if legacy else ""),
            "accelerator": profile.get("accelerator"),
            "measured_runs": len(members), "measured_epochs": [len(r.epochs) for r in members],
            "sec_per_epoch": per_epoch, "fixed_sec": fixed, "hours_per_run": hours,
            "campaign_runs": runs, "campaign_epochs": None if whole_runs else epochs,
            "campaign_units": runs * unit_hours, "unit": price["per"],
            "campaign_cost": runs * cost, "currency": price["currency"], "campaign_kwh": kwh,
            "campaign_co2e_kg_estimate": co2e_kg(kwh, profile),
            "price_source": price.get("source"), "runs_used": [str(r.path) for r in members],
            "hardware": sorted({r.hardware for r in members}), "left_out": left_out,
            "limitations": sorted({x for r in members for x in r.limitations}),
        })
    check_strict(strict, left_out)
    if not rows:
        raise ConfigError("plan: no completed runs with epoch timings, or plain runs, found")
    return rows


def campaign_kwh(members: list, hours_per_run: float, runs: int) -> float | None:
    """The campaign's energy: the measured runs' median energy per hour (the
    counters each could read) times the campaign's hours; None where no run
    measured any."""
    rates = [e["kwh"] / (float(r.summary["wall_sec"]) / 3600.0) for r in members
             if isinstance((e := r.summary.get("energy") or {}).get("kwh"), (int, float)) and r.summary.get("wall_sec")]
    return statistics.median(rates) * hours_per_run * runs if rates else None


def _num(v) -> str:
    return "–" if v is None else f"{v:.3g}"


def markdown(rows: list[dict]) -> str:
    head = ["workload", "platform", "hardware (recorded)", "s/epoch (measured)", "fixed s", "h/run", "campaign",
            "cost", "energy (kWh)", "CO2e (kg, est.)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            r["workload"], r["platform"], ", ".join(r["hardware"]) or "–", _num(r["sec_per_epoch"]),
            _num(r["fixed_sec"]), f"{r['hours_per_run']:.3g}",
            f"{r['campaign_units']:.3g} {r['unit']}s", f"{r['campaign_cost']:.3g} {r['currency']}",
            _num(r["campaign_kwh"]), _num(r["campaign_co2e_kg_estimate"])]) + " |")
    r0 = next((r for r in rows if r["campaign_epochs"] is not None), rows[0])
    lines += ["", f"Campaign: {r0['campaign_runs']} runs x {r0['campaign_epochs'] or '–'} epochs. Time per epoch "
                  "(train + validation) and fixed time (wall minus epochs) are medians of the measured runs; "
                  "a plain run without epochs counts as a whole run of its median wall time; energy is the "
                  "measured runs' kWh per hour (the counters each could read) times the campaign's hours:"]
    for r in rows:
        lines.append(f"- {r['workload']} on {r['platform']}: {r['measured_runs']} run(s) "
                     f"({', '.join(Path(p).name for p in r['runs_used'])}); price: {r['price_source']}"
                     + (f"; limitations: {'; '.join(r['limitations'])}" if r["limitations"] else ""))
    if r0["left_out"]:
        lines += ["", "Left out (unreadable, or did not complete):", *[f"- {n}" for n in r0["left_out"]]]
    return "\n".join(lines) + "\n"
