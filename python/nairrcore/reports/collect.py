"""Finding the run folders below the paths a report is given."""

from __future__ import annotations

from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.reports.legacy import is_legacy_run, legacy_run_folders, load_legacy_run
from nairrcore.reports.runs import Run, load_run


def find_runs(paths: list[str | Path], skipped: list[str] | None = None) -> list[Run]:
    """Run folders given directly or found anywhere below the given folders:
    nairrcore's, and the legacy workflow's (``runs/<platform>/<label>/``).
    A folder that cannot be read is left out, its reason appended to
    ``skipped``; without that list, it is a ConfigError."""
    runs: list[Run] = []

    def load(reader, folder: Path) -> None:
        try:
            found = reader(folder)
        except ConfigError as exc:
            if skipped is None:
                raise
            skipped.append(f"{folder}: {exc}".replace(f"{folder}: {folder}: ", f"{folder}: "))
            return
        runs.extend(found if isinstance(found, list) else [found])

    for p in map(Path, paths):
        if (p / "run_summary.json").is_file():
            load(load_run, p)
        elif is_legacy_run(p):
            load(load_legacy_run, p)
        elif p.is_dir():
            for s in sorted(p.rglob("run_summary.json")):
                if s.parent.name != "metrics":
                    load(load_run, s.parent)
            for legacy in legacy_run_folders(p):
                load(load_legacy_run, legacy)
        else:
            raise ConfigError(f"{p}: no such run folder")
    if not runs:
        raise ConfigError(f"no run folders found under {', '.join(map(str, paths))}"
                          + ("; left out:\n  " + "\n  ".join(skipped) if skipped else ""))
    return runs
