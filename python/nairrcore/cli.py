"""The ``nairrcore`` command line, grouped as a user works:

    nairrcore info
    nairrcore data fetch NAME [--from PATH]
    nairrcore run NOTEBOOK ...            a notebook, headless, with its evidence
    nairrcore train WORKLOAD ...          a workload without a notebook, with its evidence
    nairrcore report validate|compare|plan ...
    nairrcore jobs script|sweep|summary ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from nairrcore import distributed
from nairrcore._native import core as _core
from nairrcore.data import fetch
from nairrcore.errors import ConfigError, DataError
from nairrcore.evidence import RunRecorder, outputs_root, validate_run
from nairrcore.evidence.recorder import new_run_id
from nairrcore.evidence.validate import read_json_object
from nairrcore.execute import RunFailed, command_line, declared_settings, parse_params, run_command, run_notebook
from nairrcore.files import write_json, write_text
from nairrcore.jobs import sweep
from nairrcore.jobs.scheduler import JobSpec, render
from nairrcore.settings import RunOptions
from nairrcore.platforms import check_platform
from nairrcore.reports import plan as planning
from nairrcore.reports.compare import compare
from nairrcore.training import Preempted, TrainingDiverged
from nairrcore.workload import WORKLOADS, get as get_workload, headline_reference

def _cmd_info(args) -> int:
    print(json.dumps(dict(_core.build_info()), indent=2))
    return 0


def _cmd_fetch(args) -> int:
    print(fetch(args.name, dest=args.dest, source=args.source, force=args.force))
    return 0


def _invocation() -> str:
    """How to call this nairrcore again from the user's shell: ``nairrcore``
    where that name on PATH is this one, else this interpreter with ``-m``
    (a venv that is not activated, as after scripts/dev.sh demo)."""
    found = shutil.which("nairrcore")
    if found and Path(os.path.abspath(found)).parent == Path(os.path.abspath(sys.executable)).parent:
        return "nairrcore"
    return f"{shlex.quote(sys.executable)} -m nairrcore"


def _closing_block(run_dir: Path) -> str:
    """What a person wants at the end of a run: status, folder, headline figures, what to do next."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    metrics_path = run_dir / "test_metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    h = metrics.get("headline") or {}
    lines = [f"status      {summary['status']}" + (f" ({summary['error']})" if summary.get("error") else ""),
             f"run folder  {run_dir}"]
    if summary.get("kind") == "plain":
        return "\n".join(lines + _plain_lines(run_dir, summary))
    if summary["status"] == "completed":
        util = summary.get("mean_gpu_util_train_percent")
        lines += [f"per epoch   {summary['mean_train_sec_per_epoch']:.3g} s training, "
                  f"{summary['train_samples_per_sec']:,.0f} samples/s"
                  + (f", GPU {util:.0f}% busy" if util is not None else ""),
                  f"test        {h.get('name', '?')} = {h.get('value', float('nan')):.4g}"
                  + (" (lower is better)" if h.get("lower_is_better") else " (higher is better)" if h else "")
                  + (f"; {ref[0]} {ref[1]:.4g}" + (f" ({ref[2]})" if ref[2] else "")
                     if (ref := headline_reference(metrics)) else ""),
                  *_next_lines(run_dir)]
    return "\n".join(lines)


def _plain_lines(run_dir: Path, summary: dict) -> list[str]:
    util = summary.get("mean_gpu_util_percent")
    energy = (summary.get("energy") or {}).get("gpu_kwh")
    return [f"wall time   {summary.get('wall_sec', 0):.3g} s over {summary.get('steps', 0)} step(s) "
            f"(per step: steps.csv)" + (f", GPU {util:.0f}% busy" if util is not None else "")
            + (f", GPU energy {energy:.3g} kWh" if energy is not None else ""),
            *_next_lines(run_dir)]


def _next_lines(run_dir: Path) -> list[str]:
    me = _invocation()
    return [f"next        {me} report validate {shlex.quote(str(run_dir))}",
            f"            {me} report compare {shlex.quote(str(run_dir.parent.parent.parent))} --baseline "
            f"{shlex.quote(run_dir.parent.parent.name)}"]


def _cmd_run(args) -> int:
    check_platform(args.platform)
    exit_code = RunOptions.from_env(preempt_exit_code=args.preempt_exit_code).preempt_exit_code
    try:
        if args.target is not None and args.target.endswith(".ipynb"):
            if args.command_args:
                raise ConfigError("run: a notebook takes no arguments after --; use --param KEY=VALUE")
            run_dir = run_notebook(args.target, platform=args.platform, params=args.param, out=args.outputs,
                                   inputs=args.input, require_gpu=args.gpu, quiet=args.quiet,
                                   profile_steps=args.profile)
        else:
            params = parse_params(args.param)
            argv, name, code = command_line(args.target, args.command_args, params)
            run_dir = run_command(argv, args.name or name, platform=args.platform, out=args.outputs, code=code,
                                  parameters=params, inputs=args.input, require_gpu=args.gpu,
                                  preempt_exit_code=exit_code)
    except RunFailed as exc:
        print(_closing_block(exc.run_dir), file=sys.stderr)
        if exc.preempted:
            print("nairrcore: preempted after a checkpoint; the next start resumes from it", file=sys.stderr)
            return exit_code
        return 1
    print(_closing_block(run_dir))
    return 0


def _cmd_train(args) -> int:
    """Trains a workload without a notebook: checkpoints, preemption, data
    parallel, and (rank 0) a run folder like ``run`` writes."""
    workload = get_workload(args.workload)
    params = parse_params(args.param)
    workload.settings.check_names(params, "--param: ")
    environ = {"NAIRRCORE_" + k.upper(): v for k, v in params.items()}
    config = workload.config(environ=environ)
    group = None
    if args.distributed:
        group = distributed.init(timeout_sec=args.timeout)
    rank = group.rank if group is not None else 0
    options = RunOptions.from_env(checkpoint_dir=args.checkpoint_dir, checkpoint_minutes=args.checkpoint_every_minutes,
                                  checkpoint_steps=args.checkpoint_every_steps, keep_checkpoints=args.keep,
                                  resume=args.resume, preempt_exit_code=args.preempt_exit_code,
                                  bucket_mb=args.bucket_mb)
    recorder = None
    if args.record and rank == 0:
        root = Path(args.outputs) if args.outputs else outputs_root()
        recorder = RunRecorder(root / args.platform / workload.name / new_run_id(), workload.name, args.platform)
    with recorder.phase("data_prep") if recorder else contextlib.nullcontext():
        data = workload.load_data(config)
    trainer = workload.trainer(config, data, group=group, options=options)
    if recorder:
        recorder.trainer(trainer, data)
    try:
        with recorder.phase("train") if recorder else contextlib.nullcontext():
            history = trainer.fit(data, progress=not args.quiet, recorder=recorder)
    except Preempted as exc:
        print(f"nairrcore: {exc}", file=sys.stderr)
        if recorder:
            recorder.finish("interrupted", error=str(exc))
        return exc.exit_code
    except TrainingDiverged as exc:
        print(f"nairrcore: error: {exc}", file=sys.stderr)
        if recorder:
            recorder.finish("failed", error=str(exc))
        return 1
    if args.record:
        # every rank evaluates: a distributed evaluation reduces over all of them
        with recorder.phase("test") if recorder else contextlib.nullcontext():
            metrics = workload.test_metrics(trainer, data)
        if recorder:
            recorder.metrics(metrics)
            recorder.finish()
    if args.save_model and (rank == 0 or "{rank}" in args.save_model):
        trainer.save(args.save_model.format(rank=rank))
    line = json.dumps({"rank": rank, "history": history, **({"run_dir": str(recorder.run_dir)} if recorder else {})},
                      default=str)
    if args.all_ranks_print and group is not None:
        _print_in_rank_order(line, rank, group.size)
    elif rank == 0:
        print(line, flush=True)
    return 0


def _print_in_rank_order(line: str, rank: int, size: int) -> None:
    """Every rank prints its line whole: ranks share one stdout, and a line
    longer than a pipe's atomic write (4 KiB) would otherwise interleave."""
    import torch.distributed as td  # c10d's Python side, needed only under a launcher

    for turn in range(size):
        if turn == rank:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        td.barrier()


def _cmd_validate(args) -> int:
    """Exit 0 only when every folder is intact and its run completed: an intact
    record of a failed run is reported as such, never as a plain 'ok'."""
    bad = 0
    for run_dir in args.run_dirs:
        problems = validate_run(run_dir)
        summary = read_json_object(Path(run_dir) / "run_summary.json")[0] or {}
        status, error = summary.get("status"), summary.get("error")
        if problems:
            print(f"{run_dir}: {len(problems)} problem(s)")
        elif status != "completed":
            print(f"{run_dir}: intact record of a run that did not complete (status {status}"
                  f"{f': {error}' if error else ''}); compare and plan leave it out")
        else:
            print(f"{run_dir}: ok")
        bad += bool(problems) or status != "completed"
        for p in problems:
            print(f"  {p}")
    return 1 if bad else 0


def _cmd_compare(args) -> int:
    rows = compare(args.runs, args.baseline, out_dir=args.out, platforms_file=args.platforms, plots=not args.no_plots,
                   strict=args.strict)
    print((Path(args.out) / "comparison.md").read_text())
    for r in rows:
        if not r["comparable"]:
            print(f"nairrcore: warning: {r['workload']} on {r['platform']}: {r['note']}; no speedup computed",
                  file=sys.stderr)
    for note in rows[0]["left_out"] if rows else []:
        print(f"nairrcore: warning: {note}", file=sys.stderr)
    return 0


def _cmd_plan(args) -> int:
    rows = planning.plan(args.runs_dirs, args.campaign_runs, args.campaign_epochs, args.platforms, strict=args.strict)
    text = planning.markdown(rows)
    for note in rows[0]["left_out"]:
        print(f"nairrcore: warning: {note}", file=sys.stderr)
    if args.out:
        write_text(Path(args.out) / "plan.md", text)
        write_json(Path(args.out) / "plan.json", rows)
    print(text, end="")
    return 0


def _cmd_script(args) -> int:
    if args.train:
        get_workload(args.train)  # a misspelt workload fails here, not in the queue
    spec = JobSpec(notebook=args.notebook, platform=args.platform, params=args.param, account=args.account,
                   partition=args.partition, time=args.time, cpus=args.cpus, memory_gb=args.mem, gpus=args.gpus,
                   out=args.outputs, venv=args.venv, scheduler=args.scheduler, array=args.array,
                   nodes=args.nodes, tasks_per_node=args.tasks_per_node, train=args.train,
                   workdir=args.workdir or "$SLURM_SUBMIT_DIR")
    text = render(spec, get_workload(args.train).settings if args.train else declared_settings(args.notebook))
    if args.output_file:
        write_text(args.output_file, text)
        print(args.output_file)
    else:
        print(text, end="")
    return 0


def _cmd_sweep(args) -> int:
    if bool(args.grid) == bool(args.random):
        raise ConfigError("sweep: give either --grid KEY=V1,V2 ... or --random N --space FILE")
    if args.grid:
        points = sweep.grid_points(sweep.parse_grid(args.grid))
    else:
        if not args.space:
            raise ConfigError("sweep: --random needs --space FILE (JSON)")
        points = sweep.random_points(json.loads(Path(args.space).read_text()), args.random, args.seed)
    out = Path(args.dir).resolve()
    if args.run_local:
        for run_dir in sweep.run_local(points, args.notebook, args.platform, out / "runs", args.param):
            print(run_dir)
        rows = sweep.summarize([out / "runs"], out / "summary")
        print((out / "summary" / "sweep.md").read_text())
        return 0 if rows else 1
    files = sweep.write_sweep(points, str(Path(args.notebook).resolve()), args.platform, out, fixed=args.param,
                              scheduler=args.scheduler, out=str(out / "runs"), workdir=str(out),
                              account=args.account, partition=args.partition, venv=args.venv, time=args.time,
                              cpus=args.cpus, memory_gb=args.mem)
    for f in files.values():
        print(f)
    return 0


def _cmd_summary(args) -> int:
    left_out: list[str] = []
    sweep.summarize(args.runs, args.out, metric=args.metric, lower_is_better=False if args.higher_is_better else None,
                    left_out=left_out, strict=args.strict)
    print((Path(args.out) / "sweep.md").read_text())
    for note in left_out:
        print(f"nairrcore: warning: {note}", file=sys.stderr)
    return 0


def _job_options(s: argparse.ArgumentParser) -> None:
    """The scheduler options every job-writing command takes."""
    s.add_argument("--account")
    s.add_argument("--partition", help="default: the platform profile's")
    s.add_argument("--time", default="01:00:00", help="wall-time limit, HH:MM:SS")
    s.add_argument("--cpus", type=int, default=8, help="CPU cores per task")
    s.add_argument("--mem", type=int, default=32, help="memory per node, GB")
    s.add_argument("--venv", help="virtual environment the job activates")


def _strict_option(s: argparse.ArgumentParser) -> None:
    s.add_argument("--strict", action="store_true",
                   help="fail when any folder or file is left out (unreadable, or its run did not complete); "
                        "by default the report covers what can be read and lists the rest")


def _param_option(s: argparse.ArgumentParser, help: str) -> None:
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=help)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nairrcore", description="Run ML workloads on any platform and record "
                                "honest evidence.", epilog="Run folders go to the repository's outputs/ "
                                "(or $NAIRRCORE_OUTPUTS); --outputs changes it.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_info_and_data(sub)
    _add_run(sub)
    _add_train(sub)
    _add_report(sub)
    _add_jobs(sub)
    return p


def _add_info_and_data(sub) -> None:
    """``info`` and ``data fetch``."""
    s = sub.add_parser("info", help="what the compiled core was built with")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("data", help="data sets")
    dsub = s.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", help="download (with checksums) or prepare a data set from a local copy")
    f.add_argument("name", choices=["weather", "cifar10"])
    f.add_argument("--from", dest="source", help="local archive, folder or folder of .xz files")
    f.add_argument("--dest", help="where to keep the prepared copy (default: the user cache)")
    f.add_argument("--force", action="store_true", help="prepare again even if cached")
    f.set_defaults(func=_cmd_fetch)


def _add_run(sub) -> None:
    """``run``: a notebook, a script or a command."""
    s = sub.add_parser("run", help="run a notebook, a script or a command unchanged and record its evidence",
                       usage="nairrcore run [options] NOTEBOOK.ipynb | SCRIPT.py [-- ARGS...] | -- COMMAND [ARGS...]")
    s.add_argument("target", nargs="?", metavar="NOTEBOOK.ipynb | SCRIPT.py")
    s.add_argument("--platform", default="laptop", help="platform profile the run is recorded under")
    _param_option(s, "a notebook parameter, injected after its `parameters` cell as papermill does "
                     "(a script gets --KEY=VALUE) (repeatable)")
    s.add_argument("--input", action="append", default=[], metavar="PATH",
                   help="a file or folder the code reads: hashed by content into the run's fingerprint "
                        "(repeatable; runs with different inputs are not compared)")
    s.add_argument("--name", help="the run's name for a command (default: the script's or program's file name)")
    s.add_argument("--outputs", "--out", dest="outputs", help="root of the run folders (default: outputs/)")
    s.add_argument("--gpu", action="store_true", help="fail at once unless a CUDA GPU is visible")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--preempt-exit-code", type=int,
                   help=f"exit code when the run was preempted after a checkpoint (default "
                        f"{RunOptions.preempt_exit_code}: HTCondor self-checkpointing)")
    s.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="write a profiler trace of this many training steps into the run folder (profile/)")
    s.set_defaults(func=_cmd_run)


def _add_train(sub) -> None:
    """``train``: a workload without a notebook."""
    s = sub.add_parser("train", help="train a workload without a notebook and record its evidence")
    s.add_argument("workload", help=f"{', '.join(sorted(WORKLOADS))}, or your own: a .py file or module that "
                                    "registers one (docs/YOUR_WORKLOAD.md)")
    _param_option(s, "any setting of the workload (repeatable)")
    s.add_argument("--platform", default="laptop", help="platform profile the run is recorded under")
    s.add_argument("--outputs", help="root of the run folders (default: outputs/)")
    s.add_argument("--no-record", dest="record", action="store_false", help="write no run folder")
    s.add_argument("--checkpoint-dir", help="write checkpoints here (and resume from them)")
    s.add_argument("--checkpoint-every-steps", type=int, help=f"default {RunOptions.checkpoint_steps} (by time only)")
    s.add_argument("--checkpoint-every-minutes", type=float, help=f"default {RunOptions.checkpoint_minutes}")
    s.add_argument("--keep", type=int, help=f"checkpoints kept (default {RunOptions.keep_checkpoints})")
    s.add_argument("--resume", choices=["auto", "never"],
                   help="auto (default): continue from the newest good checkpoint (same settings and data); "
                        "never: start afresh")
    s.add_argument("--preempt-exit-code", type=int,
                   help=f"exit code after SIGTERM/SIGUSR1 and a checkpoint (default "
                        f"{RunOptions.preempt_exit_code}: HTCondor self-checkpointing)")
    s.add_argument("--save-model", help="write the trained model here (rank 0; '{rank}' in the name: every rank)")
    s.add_argument("--distributed", action="store_true",
                   help="data parallel over the processes torchrun or srun started (Gloo on CPU, NCCL on GPU)")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds before a missing peer is an error")
    s.add_argument("--bucket-mb", type=float, help=f"gradient all-reduce bucket size (default {RunOptions.bucket_mb})")
    s.add_argument("--all-ranks-print", action="store_true", help="every rank prints its history")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_train)


def _add_report(sub) -> None:
    """``report validate|compare|plan``."""
    s = sub.add_parser("report", help="check and compare run folders")
    rsub = s.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    r = rsub.add_parser("validate", help="check run folders against the evidence schema and their manifest")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_FOLDER")
    r.set_defaults(func=_cmd_validate)
    r = rsub.add_parser("compare", help="compare run folders across platforms: table (CSV, Markdown) and plots")
    r.add_argument("runs", nargs="+", metavar="RUNS", help="run folders, or folders holding them (e.g. outputs/)")
    r.add_argument("--baseline", required=True, help="platform name among the runs, or a run folder")
    r.add_argument("--out", default="outputs/comparison", help="report folder")
    r.add_argument("--platforms", help="JSON file overriding or adding platform profiles (prices)")
    r.add_argument("--no-plots", action="store_true")
    _strict_option(r)
    r.set_defaults(func=_cmd_compare)
    r = rsub.add_parser("plan", help="GPU-hours and cost of a campaign on each measured platform")
    r.add_argument("runs_dirs", nargs="+", metavar="RUNS", help="run folders or folders holding them")
    r.add_argument("--campaign-runs", type=int, required=True, help="runs in the campaign")
    r.add_argument("--campaign-epochs", type=int, required=True, help="epochs per run")
    r.add_argument("--platforms", help="JSON file overriding or adding platform profiles")
    r.add_argument("--out", help="report folder: also write plan.md and plan.json there")
    _strict_option(r)
    r.set_defaults(func=_cmd_plan)


def _add_jobs(sub) -> None:
    """``jobs script|sweep|summary``."""
    s = sub.add_parser("jobs", help="batch jobs: scripts, sweeps and their summaries")
    jsub = s.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    j = jsub.add_parser("script", help="write the Slurm or HTCondor job for a platform profile")
    j.add_argument("notebook")
    j.add_argument("--platform", required=True)
    _param_option(j, "a setting passed to the notebook (repeatable)")
    _job_options(j)
    j.add_argument("--gpus", type=int, help="default: the profile's")
    j.add_argument("--outputs", default="outputs", help="root of the run folders the job writes")
    j.add_argument("--workdir", help="folder the job runs in (Slurm default: the submit folder)")
    j.add_argument("--scheduler", choices=["slurm", "htcondor"], help="default: the profile's")
    j.add_argument("--array", type=int, help="N jobs, one per line of params.txt")
    j.add_argument("--train", metavar="WORKLOAD",
                   help="data parallel `nairrcore train WORKLOAD` over all tasks instead of the notebook")
    j.add_argument("--nodes", type=int, default=1)
    j.add_argument("--tasks-per-node", type=int, default=1, help="one per GPU")
    j.add_argument("-o", "--output-file", help="write the job to this file instead of stdout")
    j.set_defaults(func=_cmd_script)
    j = jsub.add_parser("sweep", help="a parameter sweep: a job for every point, or run them here")
    j.add_argument("notebook")
    j.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2")
    j.add_argument("--random", type=int, metavar="N", help="N random points from --space")
    j.add_argument("--space", help="JSON: {key: [choices] | {log_uniform|uniform|int: [lo, hi]}}")
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--platform", default="laptop")
    _param_option(j, "a setting fixed for every point (repeatable)")
    j.add_argument("--dir", required=True, help="sweep folder (params, job files, runs/)")
    j.add_argument("--scheduler", choices=["slurm", "htcondor"], default="slurm")
    j.add_argument("--run-local", action="store_true", help="run every point here, then summarise")
    _job_options(j)
    j.set_defaults(func=_cmd_sweep)
    j = jsub.add_parser("summary", help="rank a sweep's runs by their headline test metric, with plots")
    j.add_argument("runs", nargs="+", metavar="RUNS")
    j.add_argument("--out", required=True, help="report folder")
    j.add_argument("--metric", help="a number in test_metrics.json (default: the workload's headline metric)")
    j.add_argument("--higher-is-better", action="store_true", help="rank the largest --metric first")
    _strict_option(j)
    j.set_defaults(func=_cmd_summary)

def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """``run ... -- COMMAND ARGS``: what follows the first ``--`` is the
    command's, never nairrcore's options."""
    if argv[:1] == ["run"] and "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; ``run``'s command after ``--`` in ``command_args``."""
    argv, command_args = _split_command(list(argv))
    args = build_parser().parse_args(argv)
    args.command_args = command_args
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (ConfigError, DataError) as exc:
        print(f"nairrcore: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
