"""Checks a run folder against the evidence schema (versioned JSON Schemas in
``evidence/schema``) and its MANIFEST.sha256."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import jsonschema

SCHEMA_DIR = Path(__file__).with_name("schema")
REQUIRED_FILES = ["run_summary.json", "run_metadata.json", "epoch_timing.csv", "test_metrics.json", "telemetry.csv",
                  "MANIFEST.sha256", "env/pip_freeze.txt", "env/system.json", "env/nvidia_smi.txt"]


def schema(name: str, version: int = 1) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.v{version}.json").read_text())


def _cell(text: str):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _errors(instance, sch: dict, label: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(sch)
    return [f"{label}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))]


def validate_run(run_dir: str | Path) -> list[str]:
    """Every problem found, as 'file: where: what'; empty when the run is valid.
    A failed run needs only its summary (with the error), metadata and manifest."""
    run_dir = Path(run_dir)
    problems: list[str] = []
    summary_path = run_dir / "run_summary.json"
    if not summary_path.is_file():
        return [f"{summary_path}: missing"]
    summary = json.loads(summary_path.read_text())
    completed = summary.get("status") == "completed"
    required = REQUIRED_FILES if completed else ["run_summary.json", "run_metadata.json", "MANIFEST.sha256"]
    problems += [f"{run_dir / name}: missing" for name in required if not (run_dir / name).is_file()]
    problems += _errors(summary, schema("run_summary"), "run_summary.json")
    for name, sch in [("run_metadata.json", "run_metadata"), ("test_metrics.json", "test_metrics")]:
        if (run_dir / name).is_file():
            problems += _errors(json.loads((run_dir / name).read_text()), schema(sch), name)
    for name, sch in [("epoch_timing.csv", "epoch_timing_row"), ("telemetry.csv", "telemetry_row")]:
        if (run_dir / name).is_file():
            rows = read_csv_rows(run_dir / name)
            if completed and not rows:
                problems.append(f"{name}: no rows")
            row_schema = schema(sch)
            for i, row in enumerate(rows):
                problems += _errors(row, row_schema, f"{name} row {i + 1}")
    if (run_dir / "MANIFEST.sha256").is_file():
        problems += _check_manifest(run_dir)
    return problems


def _check_manifest(run_dir: Path) -> list[str]:
    listed = {}
    for line in (run_dir / "MANIFEST.sha256").read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    problems = []
    present = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
               if p.is_file() and p.name != "MANIFEST.sha256" and not p.name.startswith(".")}
    for name in sorted(present - set(listed)):
        problems.append(f"MANIFEST.sha256: {name} is not listed")
    for name, digest in sorted(listed.items()):
        path = run_dir / name
        if not path.is_file():
            problems.append(f"MANIFEST.sha256: {name} is listed but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"MANIFEST.sha256: {name} does not match its checksum")
    return problems
