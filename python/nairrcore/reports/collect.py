"""Finding the run folders below the paths a report is given."""

from __future__ import annotations

from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.reports.legacy import find_legacy_runs, is_legacy_run
from nairrcore.reports.runs import Run, load_run


def find_runs(paths: list[str | Path]) -> list[Run]:
    """Run folders given directly or found anywhere below the given folders:
    nairrcore's, and the legacy workflow's (``runs/<platform>/<label>/``)."""
    runs: list[Run] = []
    for p in map(Path, paths):
        if (p / "run_summary.json").is_file():
            runs.append(load_run(p))
        elif is_legacy_run(p):
            runs += find_legacy_runs(p)
        elif p.is_dir():
            runs += [load_run(s.parent) for s in sorted(p.rglob("run_summary.json")) if s.parent.name != "metrics"]
            runs += find_legacy_runs(p)
        else:
            raise ConfigError(f"{p}: no such run folder")
    if not runs:
        raise ConfigError(f"no run folders found under {', '.join(map(str, paths))}")
    return runs
