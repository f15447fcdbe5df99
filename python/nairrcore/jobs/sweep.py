"""Sweeps and ensembles: a parameter table (grid or random), the scheduler
files that run every point as its own job, a local runner, and the summary
of a finished sweep (best points, metric vs parameter)."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.execute import command_line, declared_settings, parse_params, run_command, run_notebook
from nairrcore.files import save_figure, write_csv, write_text
from nairrcore.jobs.scheduler import JobSpec, check_param, check_spec, render
from nairrcore.reports.collect import find_runs
from nairrcore.reports.runs import check_strict, completed
from nairrcore.training.metrics import is_number
from nairrcore.workload import headline


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--grid: expected KEY=V1,V2,..., got {item!r}")
        grid[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    keys = sorted(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def random_points(space: dict, n: int, seed: int = 0) -> list[dict[str, str]]:
    """``space``: {key: [choices]} or {key: {"log_uniform"|"uniform": [lo, hi]} | {"int": [lo, hi]}}."""
    rng = random.Random(seed)
    points = []
    for _ in range(n):
        p = {}
        for key, spec in sorted(space.items()):
            if isinstance(spec, list):
                p[key] = str(rng.choice(spec))
            elif "log_uniform" in spec:
                lo, hi = spec["log_uniform"]
                p[key] = f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}"
            elif "uniform" in spec:
                lo, hi = spec["uniform"]
                p[key] = f"{rng.uniform(lo, hi):.4g}"
            elif "int" in spec:
                lo, hi = spec["int"]
                p[key] = str(rng.randint(lo, hi))
            else:
                raise ConfigError(f"sweep space: cannot draw {key!r} from {spec!r}")
        points.append(p)
    return points


def write_sweep(points: list[dict[str, str]], notebook: str, platform: str, out_dir: str | Path,
                fixed: list[str] = (), scheduler: str = "slurm", **job) -> dict[str, Path]:
    """params.txt (one point per line, KEY=VALUE ...), params.csv, and the
    scheduler's files: a Slurm job array, or an HTCondor submit file with
    ``queue params from params.txt`` plus a DAGMan file that runs the
    comparison once every point finished."""
    if not points:
        raise ConfigError("sweep: no parameter points")
    settings = declared_settings(notebook)
    for point in points:
        for key, value in point.items():
            check_param(f"{key}={value}", settings, option="--grid")
    out = Path(out_dir)
    keys = sorted({k for p in points for k in p})
    lines = [" ".join(f"{k}={p[k]}" for k in keys if k in p) for p in points]
    files = {"params": write_text(out / "params.txt", "\n".join(lines) + "\n"),
             "table": write_csv(out / "params.csv", ["point", *keys], [{"point": i, **p} for i, p in enumerate(points)])}
    spec = check_spec(JobSpec(notebook=notebook, platform=platform, params=list(fixed), array=len(points),
                              scheduler=scheduler, **job), settings)
    if scheduler == "slurm":
        files["job"] = write_text(out / "sweep.sbatch", render(spec))
    elif scheduler == "htcondor":
        files["job"] = write_text(out / "sweep.sub", render(spec))
        files["dag"] = write_text(out / "sweep.dag", "JOB sweep sweep.sub\n"
                                  "FINAL compare compare.sub\n")
        files["compare"] = write_text(out / "compare.sub", "\n".join([
            "# runs after every sweep job: summarise the sweep's run folders",
            "universe = local", "executable = /usr/bin/env",
            f"arguments = nairrcore jobs summary {spec.out} --out {spec.out}/sweep-summary",
            "output = compare.out", "error = compare.err", "log = compare.log", "queue", ""]))
    else:
        raise ConfigError(f"sweep scheduler: expected slurm or htcondor, got {scheduler!r}")
    return files


def run_local(points: list[dict[str, str]], notebook: str, platform: str, out: str | Path,
              fixed: list[str] = ()) -> list[Path]:
    """Every point in turn on this machine (each a normal run folder); a
    script gets each point as ``--key=value`` arguments."""
    base = parse_params(list(fixed))
    if not notebook.endswith(".ipynb"):
        runs = []
        for p in points:
            argv, name, code = command_line(notebook, [], {**base, **p})
            runs.append(run_command(argv, name, platform, out, code=code, parameters={**base, **p}, echo=False))
        return runs
    return [run_notebook(notebook, platform=platform, params={**base, **p}, out=out, quiet=True) for p in points]


def summarize(run_paths: list[str | Path], out_dir: str | Path | None = None, metric: str | None = None,
              lower_is_better: bool | None = None, left_out: list[str] | None = None,
              strict: bool = False) -> list[dict]:
    """Runs ranked by their headline test metric (best first), or by the
    top-level ``metric`` of test_metrics.json (lower is better unless
    ``lower_is_better`` says otherwise), with the swept parameters (those that
    differ between runs), and a plot of the metric against each of them."""
    skipped: list[str] = []
    runs, notes = completed(find_runs(run_paths, skipped), skipped)
    check_strict(strict, notes)
    params = [r.metadata.get("parameters", {}) for r in runs]
    swept = sorted(k for k in {k for p in params for k in p} if len({p.get(k) for p in params}) > 1)
    rows, lower = [], lower_is_better
    for r, p in zip(runs, params):
        h = headline(r.metrics)
        if metric is None or (h is not None and metric == h[0]):
            if h is None:
                notes.append(f"{r.path}: no headline metric in test_metrics.json; not ranked")
                continue
            name, value = h[0], h[1]
            lower = h[2] if lower_is_better is None else lower_is_better
        else:
            value = r.metrics.get(metric)
            if not isinstance(value, (int, float)):
                raise ConfigError(f"sweep summary: {r.path / 'test_metrics.json'} has no number {metric!r}")
            name = metric
        if not is_number(value):
            notes.append(f"{r.path}: {name} is {value!r} (undefined: computed over nothing); not ranked")
            continue
        rows.append({"run": r.path.name, "metric": name, "value": value, "wall_sec": r.summary.get("wall_sec"),
                     **{k: p.get(k) for k in swept}})
    if left_out is not None:
        left_out += notes
    if not rows:
        raise ConfigError("sweep summary: no run has a headline metric to rank:\n  " + "\n  ".join(notes))
    if lower is None:
        lower = True
    rows.sort(key=lambda row: row["value"] if lower else -row["value"])
    for i, row in enumerate(rows):
        row["rank"] = i + 1
    if out_dir is not None:
        out = Path(out_dir)
        write_csv(out / "sweep.csv", ["rank", "run", "metric", "value", "wall_sec", *swept], rows)
        head = ["rank", "run", *swept, "metric", "value"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(r.get(k)) if k != "value" else f"{r[k]:.4g}" for k in head) + " |"
                  for r in rows]
        best = rows[0]
        lines += ["", f"Best: {best['run']} ({', '.join(f'{k}={best[k]}' for k in swept)}): "
                      f"{best['metric']} {best['value']:.4g}"]
        if notes:
            lines += ["", "Left out:", *[f"- {n}" for n in notes]]
        write_text(out / "sweep.md", "\n".join(lines) + "\n")
        write_text(out / "best.json", json.dumps(best, indent=2, default=str) + "\n")
        _plot(rows, swept, out)
    return rows


def _plot(rows: list[dict], swept: list[str], out: Path) -> None:
    import matplotlib  # plotting is an optional dependency (nairrcore[report])

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # (optional, as above)

    for key in swept:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        xs = [r[key] for r in rows]
        try:
            xs = [float(x) for x in xs]
        except (TypeError, ValueError):
            pass
        ax.plot(xs, [r["value"] for r in rows], "o")
        ax.set(xlabel=key, ylabel=rows[0]["metric"], title=f"{rows[0]['metric']} vs {key}")
        fig.tight_layout()
        save_figure(fig, out / f"sweep_{key}.png")
        plt.close(fig)
