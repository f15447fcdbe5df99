"""Batch scripts for the platform profiles: Slurm (sbatch) and HTCondor
(submit file), generated from the profile plus the user's account,
partition and limits, so nothing site-specific is hard-coded."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.platforms import platform_profile
from nairrcore.settings import RunOptions

EXIT = RunOptions.preempt_exit_code  # the preempted run's exit code the scheduler acts on


@dataclass
class JobSpec:
    notebook: str
    platform: str
    params: list[str] = field(default_factory=list)
    account: str | None = None
    partition: str | None = None
    time: str = "01:00:00"
    cpus: int = 8
    memory_gb: int = 32
    gpus: int | None = None          # default: the profile's
    out: str = "outputs"
    workdir: str = "$SLURM_SUBMIT_DIR"
    venv: str | None = None          # activate this venv before running
    scheduler: str | None = None     # default: the profile's
    container_image: str = "nairrcore.sif"  # apptainer build nairrcore.sif scripts/containers/nairrcore.def
    array: int | None = None         # Slurm job array / HTCondor queue from params file
    nodes: int = 1                   # data parallel: nodes x tasks_per_node processes,
    tasks_per_node: int = 1          # one per GPU (Slurm)
    train: str | None = None         # run `nairrcore train WORKLOAD --distributed` instead of the notebook


# Free text that reaches a generated file: names a scheduler knows (accounts,
# partitions), a wall time, and paths. Nothing here can end a line, open a
# quote or a substitution, or start a directive of its own.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
WALL_TIME = re.compile(r"^(\d{1,3}-)?\d{1,3}:\d{2}:\d{2}$")
PATH = re.compile(r"^[A-Za-z0-9_./+@%:=][A-Za-z0-9_./+@%:=-]{0,511}$")
# A path that starts with one environment variable, expanded when the job runs ($HOME/venvs/x).
VAR_PATH = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(/[A-Za-z0-9_./+@%:=-]{0,511})?$")
VALUE = re.compile(r"^[A-Za-z0-9_./+@%,:=-]{0,256}$")
PARAM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _match(option: str, pattern: re.Pattern, value, what: str) -> None:
    if value is not None and not pattern.match(str(value)):
        raise ConfigError(f"{option}: {value!r} is not {what}")


def check_param(item: str, settings=None, option: str = "--param") -> tuple[str, str]:
    """(key, value) of a KEY=VALUE that goes into a job: the key a Python name,
    the value plain text (no spaces, quotes, ``$`` or line ends); with the
    workload's settings class, the value is parsed and checked as ``run``
    checks it."""
    key, sep, value = str(item).partition("=")
    if not sep:
        raise ConfigError(f"{option}: expected KEY=VALUE, got {item!r}")
    _match(option, PARAM_KEY, key, "a parameter name (letters, digits, _)")
    _match(f"{option} {key}", VALUE, value, "a plain value (letters, digits and _./+@%,:=-)")
    if settings is not None:
        settings.check_names([key], f"{option}: ")
        settings.from_env(environ={}, namespace={key: value})
    return key, value


def check_spec(spec: JobSpec, settings=None) -> JobSpec:
    """ConfigError naming the option for any value that would not land in the
    generated file as exactly what it says."""
    _match("--account", NAME, spec.account, "an account name (letters, digits and _.+-)")
    _match("--partition", NAME, spec.partition, "a partition name (letters, digits and _.+-)")
    _match("--time", WALL_TIME, spec.time, "a wall time (HH:MM:SS or D-HH:MM:SS)")
    plain = "a plain path (letters, digits and _./+@%:=-; no spaces, quotes, $ or line ends)"
    for option, value in (("notebook", spec.notebook), ("--outputs", spec.out),
                          ("--container-image", spec.container_image)):
        _match(option, PATH, value, plain)
    for option, value in (("--venv", spec.venv), ("--workdir", spec.workdir)):
        if value is not None and not VAR_PATH.match(value):
            _match(option, PATH, value, plain + ", or one that starts with a variable ($HOME/...)")
    for option, value, low in (("--cpus", spec.cpus, 1), ("--mem", spec.memory_gb, 1), ("--gpus", spec.gpus, 0),
                               ("--nodes", spec.nodes, 1), ("--tasks-per-node", spec.tasks_per_node, 1),
                               ("--array", spec.array, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise ConfigError(f"{option}: expected a whole number >= {low}, got {value!r}")
    if spec.train is not None:
        _match("--train", PATH, spec.train, "a workload name or file")
    for item in spec.params:
        check_param(item, settings)
    return spec


def shell_path(path: str) -> str:
    """``path`` for bash: quoted, its leading variable (if any) expanded when the job runs."""
    m = VAR_PATH.match(path)
    if m is None:
        return shlex.quote(path)
    return f'"${m.group(1)}"' + (shlex.quote(m.group(2)) if m.group(2) else "")


def _profile(spec: JobSpec) -> dict:
    return platform_profile(spec.platform)


def _run_command(spec: JobSpec, gpus: int) -> str:
    if spec.train:
        args = ["nairrcore", "train", spec.train, "--distributed", "--quiet", "--save-model",
                f"{spec.out}/{spec.train}-model.pt"]
        for p in spec.params:
            args += ["--param", p]
        return " ".join(shlex.quote(a) for a in args) + ' --checkpoint-dir "$NAIRRCORE_CHECKPOINT_DIR"'
    args = ["nairrcore", "run", spec.notebook, "--platform", spec.platform, "--out", spec.out, "--quiet"]
    for p in spec.params:
        args += ["--param", p]
    if gpus:
        args.append("--gpu")
    return " ".join(shlex.quote(a) for a in args)


def slurm_script(spec: JobSpec) -> str:
    profile = _profile(spec)
    gpus = profile.get("gpus", 0) if spec.gpus is None else spec.gpus
    partition = spec.partition or profile.get("partition")
    lines = ["#!/bin/bash", f"#SBATCH --job-name=nairrcore-{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(spec.notebook).stem)}"]
    if spec.account:
        lines.append(f"#SBATCH --account={spec.account}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if spec.nodes < 1 or spec.tasks_per_node < 1:
        raise ConfigError("nodes and tasks_per_node: expected >= 1")
    if spec.nodes * spec.tasks_per_node > 1 and not spec.train:
        raise ConfigError("several tasks run data parallel: give the workload to train (--train)")
    if spec.train and gpus:
        gpus = spec.tasks_per_node  # one task per GPU
    lines += [f"#SBATCH --nodes={spec.nodes}", f"#SBATCH --ntasks-per-node={spec.tasks_per_node}",
              f"#SBATCH --cpus-per-task={spec.cpus}",
              f"#SBATCH --mem={spec.memory_gb}G", f"#SBATCH --time={spec.time}",
              "#SBATCH --output=%x-%j.out",
              "# SIGUSR1 to the job step 120 s before the time limit: the loop checkpoints and",
              f"# exits {EXIT}, and the job requeues itself to resume from the checkpoint",
              "#SBATCH --signal=USR1@120",
              "#SBATCH --requeue"]
    if gpus:
        gres = profile.get("gres", "gpu:1")
        lines.append(f"#SBATCH --gres={gres.rsplit(':', 1)[0]}:{gpus}" if gres.count(":") else f"#SBATCH --gres={gres}")
    if spec.array:
        lines.append(f"#SBATCH --array=0-{spec.array - 1}")
    lines += ["", "set -euo pipefail", f"# platform profile: {spec.platform} ({profile.get('accelerator')})"]
    for module in profile.get("modules", []):
        lines.append(f"module load {module} 2>/dev/null || true")
    if spec.venv:
        lines.append(f"source {shell_path(spec.venv.rstrip('/') + '/bin/activate')}")
    lines += [f"cd {shell_path(spec.workdir)}", f"mkdir -p {shlex.quote(spec.out)}",
              f"export NAIRRCORE_CHECKPOINT_DIR={shlex.quote(spec.out)}/checkpoints/$SLURM_JOB_ID"]
    if spec.array:
        lines += ['# one line of params.txt per array task: KEY=VALUE KEY=VALUE ...',
                  'PARAMS=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" params.txt)',
                  'EXTRA=(); for kv in $PARAMS; do EXTRA+=(--param "$kv"); done',
                  f'srun {_run_command(spec, gpus)} "${{EXTRA[@]}}" || status=$?']
    else:
        lines.append(f"srun {_run_command(spec, gpus)} || status=$?")
    lines += [f'if [ "${{status:-0}}" -eq {EXIT} ]; then scontrol requeue "$SLURM_JOB_ID"; fi',
              'exit "${status:-0}"']
    return "\n".join(lines) + "\n"


def _sandbox_code(spec: JobSpec) -> tuple[str, list[str]]:
    """(how the job names the notebook or script, what to transfer): code
    outside notebooks/ travels by itself and lands in the job's top folder."""
    if Path(spec.notebook).parts[:1] == ("notebooks",) or spec.train:
        return spec.notebook, ["notebooks", "scripts/htcondor"]
    return Path(spec.notebook).name, [spec.notebook, "scripts/htcondor"]


def htcondor_submit(spec: JobSpec) -> str:
    profile = _profile(spec)
    code, transfer = _sandbox_code(spec)
    gpus = profile.get("gpus", 1) if spec.gpus is None else spec.gpus
    params = " ".join(spec.params)
    if spec.nodes > 1:
        raise ConfigError("HTCondor jobs run on one machine: data parallel over its GPUs (--tasks-per-node), "
                          "not over several nodes")
    if spec.train:
        # several GPUs of one slot: torchrun starts one process per GPU inside the job
        gpus = max(gpus, spec.tasks_per_node)
    lines = [
        f"# nairrcore on {spec.platform} ({profile.get('accelerator')}): one job per line of params.txt"
        if spec.array else f"# nairrcore on {spec.platform} ({profile.get('accelerator')})",
        "universe = container",
        f"container_image = {spec.container_image}",
        "executable = scripts/htcondor/run_ddp.sh" if spec.train else "executable = scripts/htcondor/run_notebook.sh",
        (f"arguments = {spec.train} {spec.tasks_per_node} {params}".rstrip() if spec.train
         else f"arguments = {code} {spec.platform} $(params)" if spec.array
         else f"arguments = {code} {spec.platform} {params}".rstrip()),
        "transfer_input_files = " + ", ".join(
            ([] if spec.container_image.startswith(("docker://", "osdf://")) else [spec.container_image]) + transfer),
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT_OR_EVICT",
        "transfer_output_files = outputs",
        f"request_cpus = {spec.cpus}",
        f"request_memory = {spec.memory_gb}GB",
        "request_disk = 20GB",
    ]
    if gpus:
        lines += [f"request_gpus = {gpus}",
                  f"gpus_minimum_capability = {profile.get('gpus_minimum_capability', '6.1')}"]
    lines += [
        f"# self-checkpointing: exit code {EXIT} means \"checkpointed, run me again\"; HTCondor",
        "# then transfers outputs/ back and restarts the job.",
        f"checkpoint_exit_code = {EXIT}",
        "+is_resumable = true",
        "log = outputs/condor-$(Cluster).log",
        "output = outputs/condor-$(Cluster)-$(Process).out",
        "error = outputs/condor-$(Cluster)-$(Process).err",
        "queue params from params.txt" if spec.array else "queue",
    ]
    return "\n".join(lines) + "\n"


def render(spec: JobSpec, settings=None) -> str:
    """The job file for ``spec``, every value checked first (``settings``: the
    workload's settings class, to check parameters as ``run`` does)."""
    check_spec(spec, settings)
    scheduler = spec.scheduler or _profile(spec).get("scheduler")
    if scheduler == "slurm":
        return slurm_script(spec)
    if scheduler == "htcondor":
        return htcondor_submit(spec)
    raise ConfigError(f"platform {spec.platform!r} runs from a shell ({scheduler}); use scripts/cloud/ or "
                      "`nairrcore run` directly, or pass --scheduler slurm|htcondor")
