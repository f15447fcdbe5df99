"""The set-up's Python environment, made by the very code scripts/dev.sh runs
(its ``venv`` step) from a small requirements file of one local wheel, so a
venv that cannot run its own scripts fails here even on a machine whose real
venv already exists."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow
DEV_SH = REPO / "scripts" / "dev.sh"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _probe_wheel(folder: Path) -> Path:
    """A minimal wheel with one console script, written by hand (no build tools, no index)."""
    files = {
        "nairrcore_probe.py": b"import sys\n\ndef main():\n    print('probe ran from', sys.prefix)\n",
        "nairrcore_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: nairrcore-probe\nVersion: 1.0\n",
        "nairrcore_probe-1.0.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "nairrcore_probe-1.0.dist-info/entry_points.txt": b"[console_scripts]\nnairrcore-probe = nairrcore_probe:main\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + ["nairrcore_probe-1.0.dist-info/RECORD,,"]
    files["nairrcore_probe-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / "nairrcore_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def _make_venv(venv: Path, requirements: Path, wheels: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NAIRRCORE_VENV=str(venv), NAIRRCORE_REQUIREMENTS=str(requirements),
               PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(["bash", str(DEV_SH), "venv"], capture_output=True, text=True, env=env, timeout=600)


def test_the_setup_venv_runs_its_own_console_scripts(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _probe_wheel(wheels)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nairrcore-probe==1.0\n")
    venv = tmp_path / "venv"

    made = _make_venv(venv, requirements, wheels)
    assert made.returncode == 0, made.stderr[-2000:]
    assert made.stdout.strip().splitlines()[-1] == str(venv)
    assert (venv / ".nairrcore-complete").is_file()
    script = venv / "bin" / "nairrcore-probe"
    assert script.read_text().splitlines()[0] == f"#!{venv}/bin/python"  # made where it lives, never moved
    ran = subprocess.run([str(script)], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == f"probe ran from {venv}"

    # A half-made venv (no completion marker) is made again, not trusted.
    (venv / ".nairrcore-complete").unlink()
    (venv / "bin" / "pip").unlink()
    again = _make_venv(venv, requirements, wheels)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (venv / "bin" / "pip").is_file() and (venv / ".nairrcore-complete").is_file()
    assert subprocess.run([str(script)], capture_output=True, text=True).returncode == 0


def test_a_venv_without_its_requirements_is_not_marked_complete(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nairrcore-probe==1.0\n")  # the wheel is missing
    venv = tmp_path / "venv"
    made = _make_venv(venv, requirements, wheels)
    assert made.returncode != 0
    assert not (venv / ".nairrcore-complete").exists()
