"""Comparison of run folders across platforms: a table (CSV and Markdown) and
plots (PNG) of time per epoch, total time, throughput, GPU utilisation, peak
memory, cost per run, speedup over a baseline and the test metric. Speedup and
cost are computed from the runs and the platform prices; runs whose workload
configuration or dataset differ from the baseline get no speedup."""

from __future__ import annotations

import statistics
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.files import save_figure, write_csv, write_text
from nairrcore.platforms import co2e_kg, load_platforms, run_cost
from nairrcore.reports.collect import find_runs
from nairrcore.reports.runs import (Run, check_strict, completed, hardware_contradiction, load_run,
                                    plain_differences)
from nairrcore.training.metrics import is_number
from nairrcore.workload import headline, headline_reference

COLUMNS = ["workload", "platform", "runs", "hardware", "epoch_sec", "epoch_sec_spread", "total_sec",
           "total_sec_spread", "samples_per_sec", "mean_gpu_util_percent", "peak_host_rss_gb", "peak_gpu_mem_gb",
           "energy_kwh", "energy_covers", "gpu_kwh_per_epoch", "co2e_kg_estimate",
           "cost_per_run", "cost_currency", "speedup_total", "speedup_epoch", "metric", "metric_value", "metric_reference",
           "metric_reference_value", "comparable", "note"]


def _median(values):
    """The median of the numbers among ``values`` (None and NaN, undefined values, left out)."""
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else None


def _spread(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if len(values) > 1 else None


def _comparable(run: Run, base: Run, profile: dict) -> str:
    """'' when the run's speedup over ``base`` may be computed, else why not."""
    if run.workload != base.workload:
        return f"workload {run.workload} differs from the baseline's {base.workload}"
    contradiction = hardware_contradiction(run, profile)
    if contradiction:
        return contradiction
    if run.plain or base.plain:
        if run.plain != base.plain:
            return "a plain run and a run of a workload are not the same work"
        return "; ".join(plain_differences(run, base))
    if not run.legacy and run.fingerprint != base.fingerprint:
        return "dataset fingerprint differs from the baseline's"
    a, b = run.hyperparameters, base.hyperparameters
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return f"configuration differs from the baseline's in {', '.join(diff)}" if diff else ""


def compare(run_paths: list[str | Path], baseline: str, out_dir: str | Path | None = None,
            platforms_file: str | Path | None = None, plots: bool = True, strict: bool = False) -> list[dict]:
    """One row per workload and platform (median over its runs, spread as
    min-max). ``baseline`` is a platform name among the runs or a run
    folder. Folders that cannot be read, unreadable files within a run and
    runs that did not complete are left out, each with a note (``strict``:
    a ConfigError instead)."""
    skipped: list[str] = []
    runs = find_runs(run_paths, skipped)
    profiles = load_platforms(platforms_file)
    if Path(baseline).is_dir():
        base_run = load_run(baseline)
        base_platform = base_run.platform
        if all(r.path.resolve() != base_run.path.resolve() for r in runs):
            runs.append(base_run)
    else:
        base_platform = baseline
    runs, left_out = completed(runs, skipped)
    check_strict(strict, left_out)
    # Runs of the legacy workflow are grouped, and compared, only among themselves.
    by_kind: dict[tuple[str, bool], dict[str, list[Run]]] = {}
    for r in runs:
        by_kind.setdefault((r.workload, r.legacy), {}).setdefault(r.platform, []).append(r)
    if not any(base_platform in g for g in by_kind.values()):
        raise ConfigError(f"baseline {baseline!r}: no completed run of that platform among "
                          f"{sorted({p for g in by_kind.values() for p in g})}"
                          + ("; left out:\n  " + "\n  ".join(left_out) if left_out else ""))
    rows = []
    for (workload, legacy), groups in sorted(by_kind.items()):
        rows += _workload_rows(workload, groups, base_platform, profiles, legacy)
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(f"{r.workload}/{r.platform}" + (" (legacy)" if r.legacy else ""), []).append(r)
    steps = step_times(by_kind)
    if out_dir is not None:
        out = Path(out_dir)
        write_csv(out / "comparison.csv", COLUMNS, [_flat(r) for r in rows])
        if steps:
            write_csv(out / "time_per_step.csv", STEP_COLUMNS, steps)
        write_text(out / "comparison.md", markdown(rows, base_platform, profiles, left_out) + step_markdown(steps))
        if plots:
            _plots(rows, groups, out)
    for row in rows:
        row["left_out"] = left_out
    return rows


STEP_COLUMNS = ["workload", "step", "label", "platform", "runs", "median_sec"]


def step_times(by_kind: dict[tuple[str, bool], dict[str, list[Run]]]) -> list[dict]:
    """Plain runs' time per step (a notebook's cells): the median over each platform's runs."""
    out = []
    for (workload, _), groups in sorted(by_kind.items()):
        for platform, members in sorted(groups.items()):
            timed: dict[int, list] = {}
            for r in members:
                for st in r.steps if r.plain else []:
                    if st.get("duration_sec") is not None:
                        timed.setdefault(int(st["step"]), []).append(st)
            for step, items in sorted(timed.items()):
                out.append({"workload": workload, "step": step, "label": items[0].get("label") or "",
                            "platform": platform, "runs": len(items),
                            "median_sec": _median(float(i["duration_sec"]) for i in items)})
    return out


def step_markdown(steps: list[dict]) -> str:
    """One table per plain workload: a row per step, a column per platform."""
    lines = []
    for workload in sorted({s["workload"] for s in steps}):
        mine = [s for s in steps if s["workload"] == workload]
        platforms = sorted({s["platform"] for s in mine})
        cells = {(s["step"], s["platform"]): s["median_sec"] for s in mine}
        labels = {s["step"]: s["label"] for s in mine}
        lines += ["", f"Time per step of {workload} (s, median over runs; steps.csv in each run folder):", "",
                  "| step | code | " + " | ".join(platforms) + " |", "|" + "---|" * (2 + len(platforms))]
        for step in sorted(labels):
            label = str(labels[step]).replace("|", "\\|")
            lines.append(f"| {step} | `{label}` | " + " | ".join(_fmt(cells.get((step, p))) for p in platforms) + " |")
    return "\n".join(lines) + ("\n" if lines else "")


# A platform without a profile: reported, but priced at nothing and checked against nothing.
UNKNOWN_PROFILE = {"accelerator": "any", "gpus": 0, "price": {"amount": None, "per": "node-hour", "currency": "",
                                                           "source": "no platform profile"}}


def _workload_rows(workload: str, groups: dict[str, list[Run]], base_platform: str, profiles: dict,
                   legacy: bool = False) -> list[dict]:
    base_runs = groups.get(base_platform)
    base = base_runs[0] if base_runs else None
    base_total = _median(float(r.summary["wall_sec"]) for r in base_runs) if base_runs else None
    base_epoch = _median(r.epoch_sec for r in base_runs) if base_runs else None
    rows = []
    for platform, members in sorted(groups.items(), key=lambda kv: (kv[0] != base_platform, kv[0])):
        profile = profiles.get(platform) or UNKNOWN_PROFILE
        if base is None:
            reasons = [f"no {base_platform} baseline run of {workload}"
                       + (" from the legacy workflow" if legacy else "")]
        else:
            reasons = sorted({why for r in members if (why := _comparable(r, base, profile))})
        contradicted = any(hardware_contradiction(r, profile) for r in members)
        totals = [float(r.summary["wall_sec"]) for r in members]
        epochs = [r.epoch_sec for r in members]
        # Cost from the hardware the run recorded; none where it contradicts the profile.
        per_gpu = profile["price"]["per"] == "gpu-hour"
        costs = [None if contradicted or r.hardware_unknown or (per_gpu and not r.gpus) or profile is UNKNOWN_PROFILE
                 else run_cost(profile, float(r.summary["wall_sec"]), r.gpus or None) for r in members]
        metric = [headline(r.metrics) for r in members]
        # A reference only where every run recorded the same one (runs from before it was recorded have none).
        reference = [headline_reference(r.metrics) for r in members]
        reference = reference if all(reference) and len({m[0] for m in reference}) == 1 else []
        total, epoch = _median(totals), _median(epochs)
        ok = not reasons
        notes = list(reasons)
        if platform not in profiles:
            notes.append(f"platform {platform!r} has no profile (add it with --platforms): no price, "
                         "hardware not checked against it")
        if any(c is None and not r.hardware_unknown and profile is not UNKNOWN_PROFILE
               for c, r in zip(costs, members)) and not contradicted:
            notes.append("no GPU used: a per-GPU-hour price gives no cost")
        if any(r.legacy for r in members):
            notes.append("legacy workflow: configuration not verified; " + "; ".join(members[0].limitations))
        if any(r.plain and r.inputs is None for r in members):
            notes.append("inputs not verified: none declared with --input")
        if any(r.plain for r in members) and _median(r.gpu_util for r in members) is not None:
            notes.append("GPU utilisation over the whole run (a plain run has no training window)")
        for r in members:
            notes += [f"{r.path.name}: {c}" for c in r.contradictions]
            if (h := headline(r.metrics)) and not is_number(h[1]):
                notes.append(f"{r.path.name}: headline {h[0]} is undefined ({h[1]!r}: computed over nothing); "
                             "not counted in the metric")
            if r.gpu_util is None and r.summary.get("mean_gpu_util_train_percent") is not None:
                notes.append(f"{r.path.name}: GPU utilisation left out: too few telemetry samples in its "
                             "training window to say (3 needed)")
        rows.append({
            "workload": workload, "platform": platform + (" (legacy workflow)" if legacy else ""),
            "runs": len(members),
            "hardware": ", ".join(sorted({r.hardware for r in members})),
            "epoch_sec": epoch, "epoch_sec_spread": _spread(epochs), "total_sec": total,
            "total_sec_spread": _spread(totals),
            "samples_per_sec": _median(r.summary.get("train_samples_per_sec") for r in members),
            "mean_gpu_util_percent": _median(r.gpu_util for r in members),
            "peak_host_rss_gb": _gb(_median(r.summary.get("peak_host_rss_bytes") for r in members)),
            "peak_gpu_mem_gb": _gb(_median(r.summary.get("peak_gpu_mem_bytes") for r in members)),
            **_energy(members, profile, notes),
            "cost_per_run": _median(costs), "cost_currency": profile["price"]["currency"],
            "speedup_total": base_total / total if ok and total else None,
            "speedup_epoch": base_epoch / epoch if ok and epoch and base_epoch else None,
            "metric": next((m[0] for m in metric if m), None),
            "metric_value": _median(m[1] for m in metric if m),
            "metric_reference": reference[0][0] if reference else None,
            "metric_reference_value": _median(m[1] for m in reference), "comparable": ok, "note": "; ".join(notes),
        })
    return rows


def _energy(members: list[Run], profile: dict, notes: list[str]) -> dict:
    """kWh per run (what its counters covered) and per epoch (GPU, training window),
    and kg CO2e where the platform profile gives a grid carbon intensity."""
    energies = [r.summary.get("energy") or {} for r in members]
    kwh = _median(e.get("kwh") for e in energies)
    covers = sorted({e.get("covers") for e in energies if e.get("kwh") is not None})
    if kwh is None:
        reasons = sorted({why for e in energies for why in (e.get("reason"), e.get("cpu_reason")) if why})
        notes.append("no energy: " + ("; ".join(reasons) if reasons else "not recorded by these runs"))
    carbon = profile.get("carbon") or {}
    intensity = carbon.get("g_co2e_per_kwh")
    co2e = co2e_kg(kwh, profile)
    if co2e is not None:
        notes.append(f"CO2e is an estimate: {intensity} g/kWh ({carbon.get('source')}, {carbon.get('as_of')}) "
                     f"times the energy measured ({', '.join(covers)})")
    return {"energy_kwh": kwh, "energy_covers": "; ".join(covers) or None,
            "gpu_kwh_per_epoch": _median(e.get("gpu_kwh_per_epoch") for e in energies), "co2e_kg_estimate": co2e}


def _gb(v):
    return None if v is None else v / 1e9


def _flat(row: dict) -> dict:
    out = dict(row)
    for k in ("epoch_sec_spread", "total_sec_spread"):
        out[k] = "" if row[k] is None else f"{row[k][0]:.4g}-{row[k][1]:.4g}"
    return out


def _fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _metric_cell(row: dict) -> str:
    if not row["metric"]:
        return "–"
    ref = row.get("metric_reference")
    return f"{row['metric']} {_fmt(row['metric_value'], 4)}" + (
        f" ({ref} {_fmt(row['metric_reference_value'], 4)})" if ref else "")


def markdown(rows: list[dict], baseline: str, profiles: dict, left_out: list[str] = ()) -> str:
    head = ["workload", "platform", "runs", "hardware (recorded)", "time/epoch (s)", "total (s)", "samples/s",
            "GPU util (%)",
            "peak RSS (GB)", "peak GPU mem (GB)", "energy/run (kWh)", "CO2e/run (kg, est.)", "cost/run",
            "speedup (total)", "speedup (epoch)", "metric"]
    lines = [f"Baseline: **{baseline}**. Medians over runs; [min–max] where a platform has several runs. "
             "Speedup = baseline time / platform time; cost = price × hours (× GPUs for per-GPU-hour prices).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        def spread(v, s):
            return _fmt(v) + (f" [{s[0]:.3g}–{s[1]:.3g}]" if s else "")
        lines.append("| " + " | ".join([
            r["workload"], r["platform"], str(r["runs"]), r["hardware"] or "–", spread(r["epoch_sec"], r["epoch_sec_spread"]),
            spread(r["total_sec"], r["total_sec_spread"]), _fmt(r["samples_per_sec"]),
            _fmt(r["mean_gpu_util_percent"]), _fmt(r["peak_host_rss_gb"]), _fmt(r["peak_gpu_mem_gb"]),
            _fmt(r["energy_kwh"]), _fmt(r["co2e_kg_estimate"]),
            f"{_fmt(r['cost_per_run'])} {r['cost_currency']}",
            _fmt(r["speedup_total"]) + ("" if r["comparable"] else " (not comparable)"),
            _fmt(r["speedup_epoch"]), _metric_cell(r),
        ]) + " |")
    notes = [f"- {r['workload']} on {r['platform']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        lines += ["", "Notes (a platform without a speedup is not comparable with the baseline):", *notes]
    if left_out:
        lines += ["", "Left out (unreadable, or did not complete):", *[f"- {n}" for n in left_out]]
    lines += ["", "Prices (hardware and GPU counts are what each run recorded, not the platform's name):"]
    for name in sorted({r["platform"].removesuffix(" (legacy workflow)") for r in rows} & set(profiles)):
        p = profiles[name]["price"]
        lines.append(f"- {name}: {p['amount']} {p['currency']} per {p['per']} — {p.get('source')}"
                     f" (as of {p.get('as_of') or 'n/a'})")
    return "\n".join(lines) + "\n"


def _plots(rows: list[dict], groups: dict[str, list[Run]], out: Path) -> None:
    import matplotlib  # plotting is an optional dependency (nairrcore[report])

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # (optional, as above)

    def bar(key, ylabel, title, fname, spread_key=None):
        # A row without the measure gets no bar: a bar of 0 would read as a measurement.
        shown = [r for r in rows if r[key] is not None]
        fig, ax = plt.subplots(figsize=(max(4, 1.5 * len(shown)), 4))
        values = [r[key] for r in shown]
        err = None
        if spread_key:
            err = [[max(0, v - (r[spread_key] or (v, v))[0]) for v, r in zip(values, shown)],
                   [max(0, (r[spread_key] or (v, v))[1] - v) for v, r in zip(values, shown)]]
        ax.bar([f"{r['workload']}\n{r['platform']}" for r in shown], values, yerr=err, capsize=4, color="tab:blue")
        missing = len(rows) - len(shown)
        ax.set(ylabel=ylabel, title=title + (f" ({missing} row(s) without it left out)" if missing else ""))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)  # file names as workloads are long
        fig.tight_layout()
        save_figure(fig, out / fname)
        plt.close(fig)

    bar("epoch_sec", "seconds", "Training time per epoch", "time_per_epoch.png", "epoch_sec_spread")
    bar("samples_per_sec", "samples / s", "Training throughput", "throughput.png")
    bar("cost_per_run", "cost per run (platform currency)", "Cost per run", "cost.png")
    bar("speedup_total", "× baseline", "Speedup (total time)", "speedup.png")
    bar("energy_kwh", "kWh per run", "Energy per run (the counters each run could read)", "energy.png")
    bar("gpu_kwh_per_epoch", "kWh per epoch", "GPU energy per training epoch", "energy_per_epoch.png")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, members in groups.items():
        for run in members:
            rows_t = [t for t in run.telemetry if str(t.get("phase", "")).startswith("train_epoch_")]
            gpu = [t for t in rows_t if t.get("gpu_util_percent") is not None]
            series = gpu or rows_t
            key = "gpu_util_percent" if gpu else "cpu_percent"
            if series:
                t0 = series[0]["elapsed_sec"]
                ax.plot([t["elapsed_sec"] - t0 for t in series], [t[key] for t in series],
                        label=f"{label} ({'GPU' if gpu else 'host CPU'})")
    ax.set(xlabel="seconds into training", ylabel="utilisation (%)", title="Utilisation during training")
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "utilisation.png")
    plt.close(fig)
