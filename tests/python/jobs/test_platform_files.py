"""The committed platform files: batch scripts match what the profiles
generate, environment exports and container recipes are well-formed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from nairrcore.errors import ConfigError
from nairrcore.jobs.scheduler import JobSpec, render
from nairrcore.platforms import load_platforms

from conftest import REPO

# Each test starts processes that import torch again, run notebooks, build, or submit jobs.
pytestmark = pytest.mark.slow


def test_committed_batch_scripts_are_what_the_profiles_generate(tmp_path):
    env = dict(os.environ, NAIRRCORE=f"{sys.executable} -m nairrcore")
    subprocess.run(["bash", str(REPO / "scripts" / "generate_job_scripts.sh"), str(tmp_path)], check=True, env=env)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(generated) == 8
    for rel in generated:
        assert (REPO / "scripts" / rel).read_text() == (tmp_path / rel).read_text(), f"regenerate scripts/{rel}"
    for sbatch in (REPO / "scripts" / "slurm").glob("*.sbatch"):
        assert subprocess.run(["bash", "-n", str(sbatch)]).returncode == 0


@pytest.mark.parametrize("platform", sorted(load_platforms()))
def test_every_platform_has_pinned_environment_exports(platform):
    req = (REPO / "env_exports" / platform / "requirements.txt").read_text().splitlines()
    pins = [line for line in req if line and not line.startswith(("#", "--"))]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.+]+", p) for p in pins), pins
    assert any(p.startswith("torch==2.") for p in pins)
    env = (REPO / "env_exports" / platform / "environment.yml").read_text()
    assert re.search(r"^name: nairrcore$", env, re.M) and re.search(r"^dependencies:$", env, re.M)
    pip = re.findall(r"^ {6}- (\S+)$", env, re.M)  # the entries under "- pip:"
    assert [p for p in pip if not p.startswith("--")] == pins


def test_container_recipes_install_the_tested_environment():
    docker = (REPO / "scripts" / "containers" / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in docker.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "ARG" and "FROM" in instructions
    assert set(instructions) <= {"ARG", "FROM", "ENV", "RUN", "COPY", "WORKDIR", "CMD"}
    assert "env_exports/dev/requirements.txt" in docker and "--no-build-isolation" in docker
    apptainer = (REPO / "scripts" / "containers" / "nairrcore.def").read_text()
    assert re.search(r"^Bootstrap: docker$", apptainer, re.M) and re.search(r"^From: nvidia/cuda:", apptainer, re.M)
    sections = re.findall(r"^%(\w+)", apptainer, re.M)
    assert {"files", "post", "environment", "runscript", "test"} <= set(sections)
    assert "env_exports/dev/requirements.txt" in apptainer
    for script in ["htcondor/run_notebook.sh", "htcondor/run_ddp.sh", "cloud/aws_g4dn.sh", "cloud/jetstream2.sh",
                   "slurm/local_cluster.sh", "generate_job_scripts.sh"]:
        assert subprocess.run(["bash", "-n", str(REPO / "scripts" / script)]).returncode == 0, script


def test_slurm_and_htcondor_scripts_from_profiles():
    text = render(JobSpec("notebooks/cifar10.ipynb", "delta", params=["model=resnet18"], account="bbka-delta-gpu",
                          time="02:00:00"))
    assert "#SBATCH --account=bbka-delta-gpu" in text and "#SBATCH --partition=gpuA100x4" in text
    assert "#SBATCH --gres=gpu:1" in text and "#SBATCH --time=02:00:00" in text
    assert "srun nairrcore run notebooks/cifar10.ipynb --platform delta" in text and "--gpu" in text
    assert "--param model=resnet18" in text
    sub = render(JobSpec("notebooks/cifar10.ipynb", "chtc", array=4))
    for line in ("request_gpus = 1", "gpus_minimum_capability = 7.0", "container_image = ",
                 "checkpoint_exit_code = 85", "queue params from params.txt"):
        assert line in sub
    with pytest.raises(ConfigError, match="shell"):
        render(JobSpec("notebooks/forecasting.ipynb", "laptop"))
    cpu = render(JobSpec("notebooks/forecasting.ipynb", "laptop", scheduler="slurm", partition="debug"))
    assert "--gres" not in cpu and "--gpu" not in cpu
    with pytest.raises(ConfigError, match="unknown platform"):
        render(JobSpec("x.ipynb", "mars"))
