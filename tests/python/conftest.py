"""Shared fixtures: the real data sets from ../shared/data (never downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("NAIRRCORE_SHARED_DATA", REPO.parent / "shared" / "data"))
WEATHER_ARCHIVE = SHARED_DATA / "us-210-cities-daily.tar.xz"


def bench_module(name: str):
    """A module of bench/ (the pandas oracle, a benchmark's renderer), imported from its file."""
    import importlib.util
    import sys

    if str(REPO / "bench") not in sys.path:  # as when the script runs: its neighbours import
        sys.path.insert(0, str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cpu_burner():
    """Every core kept busy for the test's duration: a guarantee about timing
    or threads must hold on a loaded machine (CI's is one), not only a quiet one."""
    import sys

    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    yield len(burners)
    for p in burners:
        p.kill()
        p.wait()


def wait_for_threads(count: int, within: float = 5.0) -> int:
    """This process's thread count once it is `count`, or the count at the deadline.
    A joined thread leaves /proc a moment after join() returns (the kernel reaps
    it after waking the joiner), so the count is awaited, not read once."""
    deadline = time.monotonic() + within
    while (n := len(os.listdir("/proc/self/task"))) != count and time.monotonic() < deadline:
        time.sleep(0.005)
    return n


def pytest_configure(config):
    # Runs the tests record (``nairrcore train`` records by default) go to a
    # scratch folder, never into the repository's outputs/.
    import tempfile

    config._nairrcore_outputs = tempfile.mkdtemp(prefix="nairrcore-test-outputs-")
    os.environ["NAIRRCORE_OUTPUTS"] = config._nairrcore_outputs


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_nairrcore_outputs", ""), ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is visible")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def weather_dir(tmp_path_factory) -> Path:
    """The extracted USdata folder (scripts/dev.sh prepares it; else extracted here)."""
    env = os.environ.get("NAIRRCORE_WEATHER_DIR")
    if env and (Path(env) / "city_info.csv").is_file():
        return Path(env)
    assert WEATHER_ARCHIVE.is_file(), f"real data missing: {WEATHER_ARCHIVE}"
    from nairrcore.data import fetch

    return fetch("weather", dest=tmp_path_factory.mktemp("weather"), source=WEATHER_ARCHIVE)


@pytest.fixture(scope="session")
def small_data(weather_dir):
    from nairrcore import forecasting as fc

    return fc.load(weather_dir, cities=3)


CIFAR_DIR = SHARED_DATA / "cifar-10-batches-bin"


@pytest.fixture(scope="session")
def cifar():
    """The real CIFAR-10 set, read from the shared .bin.xz files."""
    assert (CIFAR_DIR / "data_batch_1.bin.xz").is_file(), f"real data missing: {CIFAR_DIR}"
    from nairrcore import cifar10

    return cifar10.load(CIFAR_DIR)


# A real Slurm: scripts/dev.sh test starts a one-node one
# (scripts/slurm/local_cluster.sh) and sets NAIRRCORE_REQUIRE_SLURM=1, so
# there the tests that use it cannot skip.
def _slurm_up() -> bool:
    if not shutil.which("sbatch"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mix", "alloc"))


@pytest.fixture
def slurm():
    if not _slurm_up():
        if os.environ.get("NAIRRCORE_REQUIRE_SLURM") == "1":
            pytest.fail("NAIRRCORE_REQUIRE_SLURM=1 but no Slurm is answering (scripts/slurm/local_cluster.sh start)")
        pytest.skip("no Slurm here; scripts/slurm/local_cluster.sh start makes one")


def wait_for_job(job_id: str, timeout: float = 600) -> str:
    """The final state of a Slurm job (scancel and fail after `timeout`)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
        state = next((f.split("=", 1)[1] for f in out.split() if f.startswith("JobState=")), "")
        if state and state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
            return state
        time.sleep(2)
    subprocess.run(["scancel", job_id])
    raise AssertionError(f"Slurm job {job_id} did not finish within {timeout} s")
