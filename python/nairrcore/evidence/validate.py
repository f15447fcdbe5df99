"""Checks a run folder against the evidence schema (versioned JSON Schemas in
``evidence/schema``, chosen by the run's schema_version) and its
MANIFEST.sha256. Every problem becomes a line; nothing here raises on a bad
folder."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import jsonschema

SCHEMA_DIR = Path(__file__).with_name("schema")
SCHEMA_VERSIONS = (1, 2)
REQUIRED_FILES = ["run_summary.json", "run_metadata.json", "epoch_timing.csv", "test_metrics.json", "telemetry.csv",
                  "MANIFEST.sha256", "env/pip_freeze.txt", "env/system.json", "env/nvidia_smi.txt"]
# A plain run (code watched from outside) has steps instead of epochs, and metrics only if it tracked them.
PLAIN_REQUIRED_FILES = ["run_summary.json", "run_metadata.json", "steps.csv", "telemetry.csv", "MANIFEST.sha256",
                        "env/pip_freeze.txt", "env/system.json", "env/nvidia_smi.txt"]
FINISHED = ("completed", "failed", "interrupted")


def schema(name: str, version: int = 2) -> dict:
    """The schema of ``name`` at ``version`` (the newest one not above it)."""
    for v in range(version, 0, -1):
        path = SCHEMA_DIR / f"{name}.v{v}.json"
        if path.is_file():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"no schema {name} at or below v{version}")


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
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(f)]


def read_json_object(path: Path) -> tuple[dict | None, str | None]:
    """(the JSON object in ``path``, None) or (None, what is wrong with it)."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"{path.name}: not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})"
    except OSError as exc:
        return None, f"{path.name}: unreadable ({exc.strerror})"
    if not isinstance(value, dict):
        return None, f"{path.name}: expected a JSON object, found {type(value).__name__}"
    return value, None


def _errors(instance, sch: dict, label: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(sch)
    return [f"{label}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))]


def validate_run(run_dir: str | Path) -> list[str]:
    """Every problem found, as 'file: where: what'; empty when the run is
    valid. A run that did not complete needs only its summary (with the
    error), metadata and manifest; one still marked running did not finish."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return [f"{run_dir}: no such run folder"]
    summary, problem = read_json_object(run_dir / "run_summary.json")
    if summary is None:
        return [f"{run_dir / 'run_summary.json'}: missing" if not (run_dir / "run_summary.json").exists()
                else problem]
    version = summary.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        return [f"run_summary.json: schema_version {version!r} is not one of {list(SCHEMA_VERSIONS)}"]
    status = summary.get("status")
    problems: list[str] = []
    if status == "running":
        problems.append("run_summary.json: status is 'running': the run never finished (killed, or still going); "
                        "its numbers are not evidence")
    completed = status == "completed"
    plain = summary.get("kind") == "plain"
    required = (PLAIN_REQUIRED_FILES if plain else REQUIRED_FILES) if completed else \
        ["run_summary.json", "run_metadata.json", "MANIFEST.sha256"]
    if status == "running":
        required = ["run_summary.json"]
    problems += [f"{run_dir / name}: missing" for name in required if not (run_dir / name).is_file()]
    problems += _errors(summary, schema("run_summary", version), "run_summary.json")
    for name, sch in [("run_metadata.json", "run_metadata"), ("test_metrics.json", "test_metrics")]:
        if (run_dir / name).is_file():
            obj, problem = read_json_object(run_dir / name)
            problems += [problem] if problem else _errors(obj, schema(sch, version), name)
    for name, sch in [("epoch_timing.csv", "epoch_timing_row"), ("telemetry.csv", "telemetry_row")]:
        if (run_dir / name).is_file():
            try:
                rows = read_csv_rows(run_dir / name)
            except (UnicodeDecodeError, csv.Error) as exc:
                problems.append(f"{name}: unreadable ({exc})")
                continue
            if completed and not rows and not (plain and name == "epoch_timing.csv"):
                problems.append(f"{name}: no rows")
            row_schema = schema(sch, version)
            for i, row in enumerate(rows):
                problems += _errors(row, row_schema, f"{name} row {i + 1}")
    if plain and completed and (run_dir / "steps.csv").is_file():
        problems += _check_steps(run_dir / "steps.csv")
    if (run_dir / "MANIFEST.sha256").is_file():
        problems += _check_manifest(run_dir)
    return problems


def _check_steps(path: Path) -> list[str]:
    """A completed plain run timed at least one step, each completed with a duration."""
    try:
        rows = read_csv_rows(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        return [f"steps.csv: unreadable ({exc})"]
    if not rows:
        return ["steps.csv: no rows"]
    return [f"steps.csv row {i + 1}: step {r.get('step')} is {r.get('status')!r} with duration "
            f"{r.get('duration_sec')!r} in a completed run"
            for i, r in enumerate(rows) if r.get("status") != "completed"
            or not isinstance(r.get("duration_sec"), (int, float)) or r["duration_sec"] < 0]


def _check_manifest(run_dir: Path) -> list[str]:
    try:
        text = (run_dir / "MANIFEST.sha256").read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return ["MANIFEST.sha256: not UTF-8 text"]
    listed, problems = {}, []
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            problems.append(f"MANIFEST.sha256 line {number}: expected '<sha256>  <file>', got {line[:60]!r}")
            continue
        listed[name] = digest
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
