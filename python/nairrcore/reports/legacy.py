"""Runs of the notebook workflow nairrcore replaces, read as they are:

    runs/<platform>/<date or label>/
        outputs/metrics/{epoch_timing.csv, history.csv, run_summary.json, test_metrics.json}
        outputs/reports/*.executed.ipynb
        results/benchmarks/{benchmark_row.csv, run_metadata.json, gpu_metrics.csv, nvidia_smi.txt, ...}
        results/system/, results/summary.md

(some files carry the platform as a prefix or suffix: anvil_run_metadata.json,
gpu_util_anvil.csv). The platform comes from the metadata and the folder,
and a contradiction between them, or with the benchmark row, is reported,
not resolved; the configuration comes from run_metadata.json; GPU
utilisation is recomputed from the nvidia-smi log over the training window
where the timestamps allow it. What such a run cannot show is stated as
its limitations in every report that uses it.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import statistics
from pathlib import Path

from nairrcore.reports.runs import Run

LIMITATIONS = ("no dataset fingerprint (the data behind the numbers is not identified)",
               "epoch time includes validation",
               "configuration not verified (only what run_metadata.json lists)")
# run_metadata.json field -> nairrcore forecasting setting
SETTINGS = {"n_cities": "cities", "batch_size": "batch_size", "epochs": "epochs", "width": "width", "depth": "depth",
            "dropout": "dropout", "lags": "lags", "rolls": "windows", "seed": "seed", "lr": "lr",
            "learning_rate": "lr", "weight_decay": "weight_decay"}


def is_legacy_run(path: Path) -> bool:
    return (path / "outputs" / "metrics").is_dir() and (path / "results").is_dir()


def legacy_run_folders(root: Path) -> list[Path]:
    if is_legacy_run(root):
        return [root]
    return [m.parent.parent for m in sorted(root.rglob("outputs/metrics")) if m.is_dir()
            and is_legacy_run(m.parent.parent)]


def _one(folder: Path, pattern: str) -> Path | None:
    """The file of ``folder`` matching ``pattern`` (a platform prefix or suffix allowed)."""
    hits = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return hits[0] if hits else None


def _json(path: Path | None, unreadable: list[str]) -> dict:
    """The object in ``path``; {} (and the reason in ``unreadable``) where the
    file is empty or broken, as the published runs have some."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if text.strip() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        unreadable.append(f"{path.name}: unreadable ({exc})")
        return {}
    if value is None:
        unreadable.append(f"{path.name}: empty file ({path.stat().st_size} bytes)")
        return {}
    if not isinstance(value, dict):
        unreadable.append(f"{path.name}: expected a JSON object, found {type(value).__name__}")
        return {}
    return value


def _empty_files(paths: list[Path | None]) -> list[str]:
    return [f"{p.name}: empty file (0 bytes)" for p in paths if p is not None and p.stat().st_size == 0]


def _rows(path: Path | None) -> list[list[str]]:
    if path is None:
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f) if row]


def _number(text) -> float | None:
    try:
        return float(str(text).strip().rstrip("%").split()[0])
    except (ValueError, IndexError):
        return None


def _time(text) -> float | None:
    for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(str(text).strip(), fmt).timestamp()
        except ValueError:
            pass
    return _number(text)


def _benchmark_row(path: Path | None, run_id: str | None) -> dict:
    """This run's row of benchmark_row.csv: appended rows carry two more
    fields than the header, the run id first and a GPU name last."""
    rows = _rows(path)
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    for row in body:
        if len(row) == len(header) + 2 and (run_id is None or row[0] == run_id):
            return {**dict(zip(header, row[1:-1])), "run_id": row[0], "gpu_name": row[-1]}
    for row in body:
        if len(row) == len(header):
            return dict(zip(header, row))
    return {}


def _gpu_util(path: Path | None, window: tuple[float, float] | None) -> tuple[float | None, float | None, str]:
    """(mean utilisation %, peak memory bytes, how it was computed) from an nvidia-smi CSV log."""
    rows = _rows(path)
    if len(rows) < 2:
        return None, None, "no nvidia-smi log"
    header = [h.strip() for h in rows[0]]

    def column(prefix: str) -> int | None:
        return next((i for i, h in enumerate(header) if h.startswith(prefix)), None)

    t_col, u_col, m_col = column("timestamp"), column("utilization.gpu"), column("memory.used")
    samples = []
    for row in rows[1:]:
        t = _time(row[t_col]) if t_col is not None and t_col < len(row) else None
        u = _number(row[u_col]) if u_col is not None and u_col < len(row) else None
        m = _number(row[m_col]) if m_col is not None and m_col < len(row) else None
        samples.append((t, u, m))
    peak = max((m for _, _, m in samples if m is not None), default=None)
    peak_bytes = peak * 1024 * 1024 if peak is not None else None  # nvidia-smi reports MiB
    if window is not None and all(t is not None for t, _, _ in samples):
        inside = [u for t, u, _ in samples if window[0] <= t <= window[1] and u is not None]
        if inside:
            return statistics.fmean(inside), peak_bytes, "recomputed from the nvidia-smi log over the training window"
    values = [u for _, u, _ in samples if u is not None]
    return (statistics.fmean(values) if values else None), peak_bytes, \
        "nvidia-smi log averaged over the whole job (its timestamps do not bound the training window)"


def _window(meta: dict) -> tuple[float, float] | None:
    for start, end in (("train_start", "train_end"), ("training_start", "training_end"), ("start_time", "end_time")):
        if meta.get(start) is not None and meta.get(end) is not None:
            a, b = _time(meta[start]), _time(meta[end])
            if a is not None and b is not None:
                return a, b
    return None


def load_legacy_run(path: Path) -> Run:
    metrics_dir, bench_dir = path / "outputs" / "metrics", path / "results" / "benchmarks"
    unreadable: list[str] = []
    meta = _json(_one(bench_dir, "*run_metadata*.json"), unreadable)
    summary_in = _json(_one(metrics_dir, "*run_summary*.json"), unreadable)
    folder_platform = path.parent.name
    label = str(meta.get("platform_label") or folder_platform)
    platform = label.lower()
    row = _benchmark_row(_one(bench_dir, "*benchmark_row*.csv"), meta.get("run_id"))
    contradictions = []
    if platform != folder_platform.lower():
        contradictions.append(f"run_metadata.json says platform {label!r}, its folder says {folder_platform!r}")
    if row.get("Platform") and row["Platform"].strip().lower() not in (platform, folder_platform.lower()):
        contradictions.append(f"benchmark_row.csv says platform {row['Platform']!r}, run_metadata.json {label!r}")
    said = str(meta.get("cpu_or_gpu") or row.get("CPU/GPU") or "").strip().lower()
    device = str(meta.get("device") or ("cuda" if said == "gpu" else "cpu" if said == "cpu" else "")) or None
    gpu_name = meta.get("gpu_name") or row.get("gpu_name") or None
    if device and device.startswith("cuda") and row.get("CPU/GPU", "").strip().upper() == "CPU":
        contradictions.append("benchmark_row.csv says CPU, run_metadata.json a GPU")
    epochs = []
    timing = _one(metrics_dir, "epoch_timing*.csv")
    rows = _rows(timing)
    for values in rows[1:]:
        r = dict(zip([h.strip() for h in rows[0]], values))
        sec = _number(r.get("epoch_sec"))  # training and validation together
        epochs.append({"epoch": int(_number(r.get("epoch")) or 0), "train_loss": _number(r.get("train_loss")),
                       "val_loss": _number(r.get("val_loss")), "train_sec": sec, "val_sec": None, "epoch_sec": sec,
                       "samples_per_sec": _number(r.get("throughput_samples_per_sec"))})
    util, peak, util_note = _gpu_util(_one(bench_dir, "gpu_*.csv"), _window(meta))
    training_sec = _number(summary_in.get("total_training_sec"))
    if training_sec is None and summary_in.get("total_training_min") is not None:
        training_sec = 60 * _number(summary_in["total_training_min"])
    summary = {"status": "completed" if summary_in else "failed", "workload": "forecasting", "platform": platform,
               "wall_sec": training_sec, "training_sec": training_sec,
               "mean_train_sec_per_epoch": _number(summary_in.get("avg_epoch_sec")),
               "train_samples_per_sec": _number(summary_in.get("avg_throughput_samples_per_sec")),
               "mean_gpu_util_train_percent": util if device and device.startswith("cuda") else None,
               "peak_gpu_mem_bytes": peak, "peak_host_rss_bytes": None}
    hyper = {SETTINGS[k]: (tuple(v) if isinstance(v, list) else v) for k, v in meta.items() if k in SETTINGS}
    metadata = {"platform": platform, "workload": "forecasting", "device": device,
                "gpu": {"count": 1 if device and device.startswith("cuda") else 0, "name": gpu_name},
                "hyperparameters": hyper, "dataset": None, "run_id": meta.get("run_id")}
    test = _json(_one(metrics_dir, "*test_metrics*.json"), unreadable)
    metrics = {"mae": {}, "rmse": {}}
    for key, values in test.items():
        if isinstance(values, dict):
            target = key.removesuffix("_target")
            metrics["mae"][target] = _number(values.get("MAE"))
            metrics["rmse"][target] = _number(values.get("RMSE"))
    if metrics["mae"].get("tmax") is not None:
        metrics["headline"] = {"name": "mae_tmax", "value": metrics["mae"]["tmax"], "lower_is_better": True}
    limitations = [*LIMITATIONS, f"GPU utilisation: {util_note}" if device and device.startswith("cuda")
                   else "no GPU utilisation (a CPU run)" if device
                   else "hardware not recorded (CPU or GPU unknown): no cost, no GPU utilisation",
                   "wall time not recorded (total = training time)",
                   "price: the run records none (the platform profile's is used)"]
    unreadable += _empty_files([timing, _one(bench_dir, "*benchmark_row*.csv"), _one(bench_dir, "gpu_*.csv")])
    run = Run(path, platform, "forecasting", summary, metadata, epochs, metrics, [], limitations, contradictions)
    run.unreadable = unreadable
    return run
