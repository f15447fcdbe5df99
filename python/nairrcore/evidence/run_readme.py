"""The README.md of a run folder: what happened, what each file holds, and
how to check the folder."""

from __future__ import annotations

from pathlib import Path

from nairrcore.files import write_text
from nairrcore.workload import headline, headline_reference

FILES = [
    ("run_summary.json", "status, wall and training time, time to first batch, data-prep time, samples/s, "
                         "peak host and GPU memory, mean GPU utilisation over the training window"),
    ("epoch_timing.csv", "per epoch: losses, training and validation seconds (apart), samples/s"),
    ("test_metrics.json", "test metrics; `headline` is the number a comparison shows"),
    ("run_config.json", "every setting, what the compiled core received (`core`), device, precision, "
                        "dataset fingerprint, how the steps ran (`cuda_graphs`)"),
    ("run_metadata.json", "run id, platform, host, scheduler job, git commit, versions, CPU model and GPU"),
    ("telemetry.csv", "about once a second: GPU utilisation, memory and power (NVML), host CPU and RSS, "
                      "with the phase (data_prep, train_epoch_N, validation_epoch_N, test, idle)"),
    ("benchmark_row.csv", "one row in the published benchmark layout"),
    ("steps.csv", "per cell of the notebook (or the one command): start, end, seconds, status, timed by the runner"),
    ("process_telemetry.csv", "the runner's samples of the kernel's process tree and the GPUs, as telemetry.csv"),
    ("command_output.txt", "everything the command printed"),
    ("env/", "pip freeze, system facts (CPU model and ISA, memory, OS), nvidia-smi -q or why it is absent"),
    ("MANIFEST.sha256", "the sha256 of every file here (`sha256sum -c MANIFEST.sha256`)"),
]


def _fmt(value, unit: str = "", digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}g}{unit}" if abs(value) < 1e4 else f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def _gpu_util(summary: dict) -> str:
    if summary.get("mean_gpu_util_train_percent") is not None:
        return _fmt(summary["mean_gpu_util_train_percent"], " %")
    if not (summary.get("gpu_telemetry") or {}).get("available"):
        return "– (no GPU telemetry)"
    n = summary.get("gpu_util_train_samples")
    return f"– (training too short: {n} sample(s), 3 needed)" if n is not None else "–"


def _plain_table(summary: dict) -> list[str]:
    energy = summary.get("energy") or {}
    util = summary.get("mean_gpu_util_percent")
    return ["This code did not record itself: nairrcore ran it and watched its processes from outside.", "",
            "| measure | value |", "|---|---|",
            f"| steps (cells, or the command) | {summary.get('steps')} |",
            f"| wall time | {_fmt(summary.get('wall_sec'), ' s')} |",
            f"| peak RSS of its processes | {_fmt((summary.get('peak_host_rss_bytes') or 0) / 1e9 or None, ' GB')} |",
            f"| mean GPU utilisation over the run | {_fmt(util, ' %') if util is not None else _gpu_util(summary)} |",
            f"| GPU energy | {_fmt(energy.get('gpu_kwh'), ' kWh') if energy.get('gpu_j') is not None else '– (' + str(energy.get('reason')) + ')'} |",
            ""]


def write_readme(run_dir: Path, summary: dict, metrics: dict) -> Path:
    h = headline(metrics)
    lines = [f"# {summary['workload']} on {summary['platform']}: {run_dir.name}", "",
             f"Status: **{summary['status']}**" + (f" ({summary['error']})" if summary.get("error") else ""), ""]
    if summary["status"] == "completed" and summary.get("kind") == "plain":
        lines += _plain_table(summary)
    elif summary["status"] == "completed":
        lines += [
            "| measure | value |", "|---|---|",
            f"| epochs | {summary['epochs']} |",
            f"| training time per epoch | {_fmt(summary['mean_train_sec_per_epoch'], ' s')} |",
            f"| training samples/s | {_fmt(summary['train_samples_per_sec'])} |",
            f"| wall time | {_fmt(summary['wall_sec'], ' s')} |",
            f"| mean GPU utilisation while training | {_gpu_util(summary)} |",
            f"| test {h[0] if h else 'metric'} | {_fmt(h[1]) if h else '–'}"
            f"{' (lower is better)' if h and h[2] else ' (higher is better)' if h else ''} |",
            *([f"| test {h[0] if h else 'metric'} of {ref[0]} | {_fmt(ref[1])} |"]
              if (ref := headline_reference(metrics)) else []), ""]
    lines += ["## Files", ""] + [f"- `{name}`: {what}" for name, what in FILES if (run_dir / name).exists()
                                 or name.endswith("/") and (run_dir / name.rstrip("/")).is_dir()]
    others = sorted(p.name for p in run_dir.iterdir() if p.is_file() and p.name not in {n for n, _ in FILES}
                    and p.name not in ("README.md",) and not p.name.startswith("."))
    if others:
        lines += [f"- also: {', '.join(f'`{n}`' for n in others)} (the executed notebook, its output, plots, "
                  "the model)"]
    lines += ["", "## Check it", "",
              "```bash",
              f"nairrcore report validate {run_dir}        # schema, required files and checksums",
              "nairrcore report compare <runs>... --baseline <platform>   # against other platforms",
              "```", ""]
    return write_text(run_dir / "README.md", "\n".join(lines))
