"""Running the user's code headless into a run folder, unchanged: a notebook
(nbclient), a Python script or any command.

The code need not import nairrcore: the runner watches its process tree
from outside (``evidence.process``), times every cell (written into the
executed notebook's cell metadata the way papermill does, and into
``steps.csv``), and writes a complete run folder. Parameters reach a
notebook as papermill gives them: a cell of Python literals after the cell
tagged ``parameters``; a script receives them as ``--key=value`` arguments.
A notebook that records its own run (``RunRecorder``: the built-in
workloads) keeps its evidence, and the runner adds to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import keyword
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from nairrcore.errors import ConfigError
from nairrcore.evidence.code import INJECTED_TAG, InputHasher, command_code, notebook_code
from nairrcore.evidence.process import ProcessWatch, first_line, iso
from nairrcore.evidence.recorder import new_run_id, outputs_root
from nairrcore.files import write_text
from nairrcore.platforms import check_platform
from nairrcore.progress import progress_bar
from nairrcore.settings import RunOptions, literal
from nairrcore.workload import WORKLOADS

PREEMPT_EXIT_CODE = RunOptions.preempt_exit_code
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


class RunFailed(RuntimeError):
    """The code failed (a cell raised, the command exited non-zero); the
    evidence is kept and marked failed, or interrupted when preempted."""

    def __init__(self, run_dir: Path, message: str, preempted: bool = False) -> None:
        super().__init__(message)
        self.run_dir = run_dir
        self.preempted = preempted




def parse_params(params: dict[str, str] | list[str]) -> dict[str, str]:
    """KEY=VALUE items (or a dict) as {key: value}; ConfigError on a malformed item."""
    if isinstance(params, dict):
        return {k: str(v) for k, v in params.items()}
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def notebook_parameters(params: dict[str, str] | list[str]) -> dict:
    """Parameters as papermill's ``-p`` reads them (True/False/None, int,
    float, else str); a name that is not a Python identifier is refused, as
    it would be code rather than a name."""
    out = {}
    for key, value in parse_params(params).items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ConfigError(f"--param: {key!r} is not a Python name a notebook parameter can have")
        out[key] = literal(value) if isinstance(value, str) else value
    return out


def inject_parameters(nb, params: dict) -> None:
    """papermill's injection: a code cell tagged ``injected-parameters``
    holding ``name = repr(value)`` lines, after the cell tagged ``parameters``
    (at the top where none is), replacing one injected before."""
    import nbformat  # the notebook stack is an optional dependency

    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    if not params:
        return
    source = "# Parameters\n" + "".join(f"{k} = {_python_literal(v)}\n" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    marked = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    nb.cells.insert(marked[-1] + 1 if marked else 0, cell)


def _python_literal(value) -> str:
    """Python source for a parameter's value (never code): ``repr``, except
    for the floats whose ``repr`` is not a literal (nan, inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def _kernel_pid(client) -> int:
    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    return int(getattr(provisioner, "pid", None) or 0)


def _on_start(client, watch: ProcessWatch):
    """nbclient's on_notebook_start: watch the kernel, and pass SIGTERM and
    SIGUSR1 on to it. The kernel runs in its own session, so the scheduler's
    signal reaches only this process; nbclient's own SIGTERM handler would shut
    the kernel down instead of letting the training loop checkpoint."""
    def forward(signum: int) -> None:
        km = getattr(client, "km", None)
        if km is not None and km.has_kernel:
            pending = km.signal_kernel(signum)
            if inspect.isawaitable(pending):
                asyncio.ensure_future(pending)

    def install(**_) -> None:
        watch.watch(_kernel_pid(client))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            try:
                loop.add_signal_handler(sig, forward, sig)
            except (RuntimeError, NotImplementedError):  # not the main thread
                pass

    return install


def _cell_hooks(client, nb, watch: ProcessWatch, save, progress):
    """Time every cell into the watch and into ``metadata.papermill`` of the cell."""
    def started(cell, cell_index, **_) -> None:
        if cell.cell_type != "code" or not cell.source.strip():  # nbclient skips it: no step
            return
        watch.step_started(cell_index, "cell", first_line(cell.source))
        cell.metadata["papermill"] = {"start_time": iso(time.time()), "end_time": None, "duration": None,
                                      "status": "running", "exception": False}

    def executed(cell, cell_index, execute_reply, **_) -> None:
        failed = (execute_reply or {}).get("content", {}).get("status") == "error"
        step = watch.step_ended(not failed)
        cell.metadata["papermill"] = {"start_time": iso(step["start_unix"]), "end_time": iso(step["end_unix"]),
                                      "duration": step["duration_sec"], "status": step["status"],
                                      "exception": failed}
        save()
        if progress is not None:
            progress.update(1)

    client.on_cell_start = started
    client.on_cell_executed = executed


def declared_workload(nb) -> str | None:
    """The built-in workload a notebook declares (``metadata.nairrcore.workload``),
    or None: a plain notebook, or one naming a workload that is not built in."""
    declared = (nb.metadata.get("nairrcore") or {}).get("workload")
    return declared if declared in WORKLOADS else None


def declared_settings(path: str | os.PathLike):
    """The settings class of the built-in workload a notebook declares, or
    None (a plain notebook, a script)."""
    if not str(path).endswith(".ipynb") or not Path(path).is_file():
        return None
    import nbformat  # the notebook stack is an optional dependency

    declared = declared_workload(nbformat.read(path, as_version=4))
    return WORKLOADS[declared].settings if declared else None


def _notebook_target(notebook: Path, nb, params: dict) -> str:
    """The folder name: the built-in workload the notebook declares (its
    parameter names are checked), else the notebook's own file name."""
    declared = declared_workload(nb)
    if declared:
        WORKLOADS[declared].settings.check_names(params, "--param: ")
    return declared or notebook.name


def _prepare(name: str, platform: str, out, require_gpu: bool, params: dict) -> Path:
    check_platform(platform)
    if not _NAME.match(name):
        raise ConfigError(f"--name: {name!r}: use letters, digits, '.', '_', '+' or '-' (a folder is named after it)")
    if require_gpu or str(params.get("device", "")).startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("a GPU was asked for but torch sees no CUDA device on this machine")
    run_dir = Path(out or outputs_root()) / platform / name / new_run_id()
    run_dir.mkdir(parents=True)
    return run_dir


def run_notebook(notebook: str | os.PathLike, platform: str = "laptop", params=(), out: str | os.PathLike | None = None,
                 *, inputs=(), require_gpu: bool = False, timeout: int = 24 * 3600, quiet: bool = False,
                 profile_steps: int = 0, sample: bool = True) -> Path:
    """Execute ``notebook`` headless; returns its run folder
    ``<out>/<platform>/<name>/<run_id>`` (``out``: default ``outputs_root()``).
    Raises RunFailed (the folder marked failed) when a cell raised.
    ``sample=False`` leaves the kernel unsampled (the benchmark of the
    sampler's cost; such a folder has no telemetry and does not validate)."""
    import nbformat  # the notebook stack is an optional dependency
    from nbclient import NotebookClient  # (optional, as above)
    from nbclient.exceptions import CellExecutionError  # (optional, as above)

    check_platform(platform)
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise ConfigError(f"notebook: {notebook} does not exist")
    params = notebook_parameters(params)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (ValueError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        raise ConfigError(f"notebook: {notebook}: not a readable notebook ({type(exc).__name__}: {exc})") from exc
    name = _notebook_target(notebook, nb, params)
    hashed = InputHasher().inputs(list(inputs))
    run_dir = _prepare(name, platform, out, require_gpu, params)
    inject_parameters(nb, params)
    watch = ProcessWatch(run_dir, name, platform, code=notebook_code(nb), parameters=params, inputs=hashed,
                         source=str(notebook), sample=sample)
    executed = run_dir / notebook.name
    env = {"NAIRRCORE_RUN_DIR": str(run_dir.resolve()), "NAIRRCORE_PLATFORM": platform,
           "NAIRRCORE_NOTEBOOK": str(notebook)}
    if profile_steps:
        env["NAIRRCORE_PROFILE_STEPS"] = str(profile_steps)
    started, error = time.time(), None
    with _environment(env):  # the kernel inherits this process's environment
        runnable = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)
        progress = None if quiet else progress_bar(total=runnable, unit="cell", desc=name)
        # The kernel listens on localhost only; its warning about unencrypted TCP is not the user's concern.
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                resources={"metadata": {"path": str(notebook.parent)}},
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        client.on_notebook_start = _on_start(client, watch)
        _cell_hooks(client, nb, watch, lambda: write_text(executed, nbformat.writes(nb)), progress)
        try:
            client.execute()
        except CellExecutionError as exc:
            error = str(exc)
        finally:
            if progress is not None:
                progress.close()
    nb.metadata["papermill"] = {"parameters": params, "input_path": str(notebook), "output_path": str(executed),
                                "start_time": iso(started), "end_time": iso(time.time()),
                                "duration": time.time() - started, "exception": error is not None}
    write_text(executed, nbformat.writes(nb))
    write_text(run_dir / "notebook_output.txt", stream_text(nb))
    return _finish(watch, run_dir, error)


def _finish(watch: ProcessWatch, run_dir: Path, error: str | None, preempted: bool | None = None) -> Path:
    preempted = _preempted(error) if preempted is None else preempted
    status = "completed" if error is None else "interrupted" if preempted else "failed"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", error or "").strip()
    watch.finish(status, (plain.splitlines()[-1] if plain else "failed") if error is not None else None)
    if error is not None:
        raise RunFailed(run_dir, error, preempted=preempted)
    return run_dir


@contextlib.contextmanager
def _environment(env: dict):
    """Set variables for the block, then restore them."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def command_line(target: str | None, rest: list[str], params: dict) -> tuple[list[str], str, list[str]]:
    """(the argv to run, the run's name, the words that are its code) for
    ``run SCRIPT.py ARGS`` or ``run -- COMMAND ARGS``; parameters become
    ``--key=value`` arguments, recorded as parameters rather than code."""
    if target is not None and target.endswith(".py"):
        if not Path(target).is_file():
            raise ConfigError(f"script: {target} does not exist")
        argv = ["python", target, *rest]
        name = Path(target).name
    elif target is None and rest:
        argv = list(rest)
        script = next((a for a in argv[1:2] if a.endswith(".py")), None)
        name = Path(script or argv[0]).name
    else:
        raise ConfigError(f"run: expected a notebook (.ipynb), a script (.py) or -- COMMAND ARGS, got {target!r}")
    code = list(argv)
    if argv[0] == "python":
        argv[0] = sys.executable
    return argv + [f"--{k}={v}" for k, v in params.items()], name, code


def run_command(argv: list[str], name: str, platform: str = "laptop", out: str | os.PathLike | None = None, *,
                code: list[str] | None = None, parameters: dict | None = None, inputs=(), require_gpu: bool = False,
                preempt_exit_code: int = PREEMPT_EXIT_CODE, echo: bool = True) -> Path:
    """Run ``argv`` (in the working directory) as a plain run: its output
    shown and kept in ``command_output.txt``, SIGTERM/SIGUSR1 passed on, exit
    0 completed, ``preempt_exit_code`` or a termination signal interrupted,
    anything else failed with the exit code and the last line it printed.
    ``code``: the words its fingerprint hashes (default: ``argv``)."""
    check_platform(platform)
    hashed = InputHasher().inputs(list(inputs))
    run_dir = _prepare(name, platform, out, require_gpu, parameters or {})
    watch = ProcessWatch(run_dir, name, platform, code=command_code(code or argv, Path.cwd()),
                         parameters=parameters or {}, inputs=hashed, source=" ".join(argv))
    env = {"NAIRRCORE_RUN_DIR": str(run_dir.resolve()), "NAIRRCORE_PLATFORM": platform}
    watch.step_started(0, "command", first_line(" ".join(argv)))
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **env})
    except OSError as exc:
        watch.step_ended(False)
        return _finish(watch, run_dir, f"cannot start {argv[0]}: {exc.strerror}", preempted=False)
    watch.watch(proc.pid)
    pump, last = _tee(proc, run_dir / "command_output.txt", echo)
    code = _wait_forwarding(proc)
    pump.join()
    watch.step_ended(code == 0)
    if code == 0:
        return _finish(watch, run_dir, None)
    preempted = code == preempt_exit_code or code in (-signal.SIGTERM, -signal.SIGINT, -signal.SIGUSR1)
    why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return _finish(watch, run_dir, why + (f": {last[0]}" if last else ""), preempted=preempted)


def _tee(proc: subprocess.Popen, path: Path, echo: bool) -> tuple[threading.Thread, list[str]]:
    """Copy the command's output to the terminal and to ``path`` as it comes,
    on a thread; returns the thread and a list that holds the last non-blank
    line once the thread is done."""
    last: list[str] = []

    def pump() -> None:
        with open(path, "wb") as f:
            for line in iter(proc.stdout.readline, b""):
                f.write(line)
                f.flush()
                if echo:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
                if line.strip():
                    last[:] = [line.decode(errors="replace").strip()]

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread, last


def _wait_forwarding(proc: subprocess.Popen) -> int:
    """Wait for ``proc``, passing SIGTERM and SIGUSR1 on to it; Ctrl-C reaches
    it from the terminal (same process group), so the runner only waits on."""
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        try:
            previous[sig] = signal.signal(sig, lambda s, _f: proc.send_signal(s))
        except ValueError:  # not the main thread
            pass
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _preempted(error: str | None) -> bool:
    return bool(error) and "Preempted" in error


def _clean(text: str) -> str:
    """Progress bars redraw a line with carriage returns: keep what the last
    redraw left on each line."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))


def stream_text(nb) -> str:
    """What the notebook printed (streams and errors), as a terminal would show it."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(_clean(output.get("text", "")))
            elif output.get("output_type") == "error":
                parts.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", []))) + "\n")
    return "".join(parts)
