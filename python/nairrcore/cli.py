"""The ``nairrcore`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nairrcore.errors import ConfigError, DataError


def _cmd_info(args) -> int:
    import nairrcore

    print(json.dumps(nairrcore.build_info(), indent=2))
    return 0


def _cmd_fetch(args) -> int:
    from nairrcore.data import fetch

    print(fetch(args.name, dest=args.dest, source=args.source, force=args.force))
    return 0


def _cmd_run(args) -> int:
    from nairrcore.runner import NotebookFailed, run_notebook

    try:
        run_dir = run_notebook(args.notebook, platform=args.platform, params=args.param, out=args.out,
                               require_gpu=args.gpu, quiet=args.quiet, profile_steps=args.profile)
    except NotebookFailed as exc:
        if exc.preempted:
            print(f"notebook preempted after a checkpoint; evidence so far in {exc.run_dir}", file=sys.stderr)
            return args.preempt_exit_code
        print(f"notebook failed; partial evidence kept in {exc.run_dir}\n{exc}", file=sys.stderr)
        return 1
    print(run_dir)
    return 0


def _cmd_train(args) -> int:
    """Trains a workload without a notebook, with checkpoints and preemption."""
    from nairrcore.checkpoint import CheckpointManager, Preempted
    from nairrcore.runner import _parse_params

    params = _parse_params(args.param)
    environ = {"NAIRRCORE_" + k.upper(): v for k, v in params.items()}
    group = None
    if args.distributed:
        from nairrcore import dist

        group = dist.init(timeout_sec=args.timeout)
    ckpt = CheckpointManager(args.checkpoint_dir, keep=args.keep, every_steps=args.checkpoint_every_steps,
                             every_seconds=60.0 * args.checkpoint_every_minutes) if args.checkpoint_dir else None
    if args.workload == "forecasting":
        from nairrcore import forecasting as wl

        config = wl.ForecastConfig.from_env(environ=environ)
        data = wl.load(config.data, cities=config.city_ids or config.cities, lags=config.lags,
                       windows=config.windows, threads=config.threads, in_memory=config.in_memory)
        trainer = wl.Trainer(config, inputs=data.num_features, group=group, bucket_mb=args.bucket_mb)
    else:
        from nairrcore import cifar10 as wl

        config = wl.Cifar10Config.from_env(environ=environ)
        data = wl.load(config.data, train_limit=config.train_limit, test_limit=config.test_limit)
        trainer = wl.Trainer(config, group=group, bucket_mb=args.bucket_mb)
    rank = group.rank if group is not None else 0
    try:
        history = trainer.fit(data, progress=not args.quiet, checkpoint=ckpt, resume=args.resume,
                              preempt_exit_code=args.preempt_exit_code)
    except Preempted as exc:
        print(f"nairrcore: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.save_model and (rank == 0 or "{rank}" in args.save_model):
        trainer.save(args.save_model.format(rank=rank))
    line = json.dumps({"rank": rank, "history": history}, default=str)
    if args.all_ranks_print and group is not None:
        _print_in_rank_order(line, rank, group.size)
    elif rank == 0:
        print(line, flush=True)
    return 0


def _print_in_rank_order(line: str, rank: int, size: int) -> None:
    """Every rank prints its line whole: ranks share one stdout, and a line
    longer than a pipe's atomic write (4 KiB) would otherwise interleave."""
    import torch.distributed as td

    for turn in range(size):
        if turn == rank:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        td.barrier()


def _cmd_sweep(args) -> int:
    from nairrcore import sweep

    if bool(args.grid) == bool(args.random):
        raise ConfigError("sweep: give either --grid KEY=V1,V2 ... or --random N --space FILE")
    if args.grid:
        points = sweep.grid_points(sweep.parse_grid(args.grid))
    else:
        if not args.space:
            raise ConfigError("sweep: --random needs --space FILE (JSON)")
        points = sweep.random_points(json.loads(Path(args.space).read_text()), args.random, args.seed)
    out = Path(args.out).resolve()
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


def _cmd_sweep_summary(args) -> int:
    from nairrcore import sweep

    sweep.summarize(args.runs, args.out, metric=args.metric)
    print((Path(args.out) / "sweep.md").read_text())
    return 0


def _cmd_plan(args) -> int:
    from nairrcore.evidence import plan

    rows = plan.plan(args.runs_dirs, args.runs, args.epochs, args.platforms)
    text = plan.markdown(rows)
    if args.out:
        from nairrcore.evidence.files import write_json, write_text

        write_text(Path(args.out) / "plan.md", text)
        write_json(Path(args.out) / "plan.json", rows)
    print(text, end="")
    return 0


def _cmd_validate(args) -> int:
    from nairrcore.evidence import validate_run

    bad = 0
    for run_dir in args.run_dirs:
        problems = validate_run(run_dir)
        bad += bool(problems)
        print(f"{run_dir}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for p in problems:
            print(f"  {p}")
    return 1 if bad else 0


def _cmd_compare(args) -> int:
    from nairrcore.evidence.compare import compare

    rows = compare(args.runs, args.baseline, out_dir=args.out, platforms_file=args.platforms, plots=not args.no_plots)
    print((Path(args.out) / "comparison.md").read_text())
    for r in rows:
        if not r["comparable"]:
            print(f"nairrcore: warning: {r['platform']}: {r['note']}; no speedup computed", file=sys.stderr)
    return 0


def _cmd_script(args) -> int:
    from nairrcore.scheduler import JobSpec, render

    spec = JobSpec(notebook=args.notebook, platform=args.platform, params=args.param, account=args.account,
                   partition=args.partition, time=args.time, cpus=args.cpus, memory_gb=args.mem, gpus=args.gpus,
                   out=args.out, venv=args.venv, scheduler=args.scheduler, array=args.array,
                   nodes=args.nodes, tasks_per_node=args.tasks_per_node, train=args.train,
                   workdir=args.workdir or "$SLURM_SUBMIT_DIR")
    text = render(spec)
    if args.output:
        from nairrcore.evidence.files import write_text

        write_text(args.output, text)
        print(args.output)
    else:
        print(text, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nairrcore", description="Run ML workloads on any platform and record honest evidence.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="show what the compiled core was built with")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("data", help="data set commands")
    dsub = s.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download (with checksums) or prepare a data set from a local copy")
    f.add_argument("name", choices=["weather", "cifar10"])
    f.add_argument("--from", dest="source", help="local archive, folder or folder of .xz files")
    f.add_argument("--dest", help="where to keep the prepared copy (default: the user cache)")
    f.add_argument("--force", action="store_true", help="prepare again even if cached")
    f.set_defaults(func=_cmd_fetch)

    s = sub.add_parser("run", help="execute a notebook headless and record its evidence")
    s.add_argument("notebook")
    s.add_argument("--platform", default="laptop")
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="sets NAIRRCORE_<KEY> for the notebook's parameters cell (repeatable)")
    s.add_argument("--out", default="outputs", help="root of the run folders (default: ./outputs)")
    s.add_argument("--gpu", action="store_true", help="fail at once unless a CUDA GPU is visible")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--preempt-exit-code", type=int, default=85,
                   help="exit code when the run was preempted after a checkpoint (85: HTCondor self-checkpointing)")
    s.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="write a profiler trace of this many training steps into the run folder (profile/)")
    s.set_defaults(func=_cmd_run)

    s = sub.add_parser("train", help="train a workload without a notebook (checkpoints, preemption, resume)")
    s.add_argument("workload", choices=["forecasting", "cifar10"])
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="any config field")
    s.add_argument("--checkpoint-dir", help="write checkpoints here (and resume from them)")
    s.add_argument("--checkpoint-every-steps", type=int, default=0)
    s.add_argument("--checkpoint-every-minutes", type=float, default=10.0)
    s.add_argument("--keep", type=int, default=3, help="checkpoints kept")
    s.add_argument("--resume", choices=["auto", "never"], default="auto")
    s.add_argument("--preempt-exit-code", type=int, default=85,
                   help="exit code after SIGTERM/SIGUSR1 and a checkpoint (85: HTCondor self-checkpointing)")
    s.add_argument("--save-model", help="write the trained model here (rank 0; '{rank}' in the name: every rank)")
    s.add_argument("--distributed", action="store_true",
                   help="data parallel over the processes torchrun or srun started (Gloo on CPU, NCCL on GPU)")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds before a missing peer is an error")
    s.add_argument("--bucket-mb", type=float, default=25.0, help="gradient all-reduce bucket size")
    s.add_argument("--all-ranks-print", action="store_true", help="every rank prints its history")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("sweep", help="a parameter sweep: scheduler files for every point, or run them here")
    s.add_argument("notebook")
    s.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2")
    s.add_argument("--random", type=int, metavar="N", help="N random points from --space")
    s.add_argument("--space", help="JSON: {key: [choices] | {log_uniform|uniform|int: [lo, hi]}}")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--platform", default="laptop")
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="fixed for every point")
    s.add_argument("--out", required=True, help="sweep folder (params, scheduler files, runs/)")
    s.add_argument("--scheduler", choices=["slurm", "htcondor"], default="slurm")
    s.add_argument("--run-local", action="store_true", help="run every point here, then summarise")
    s.add_argument("--account")
    s.add_argument("--partition")
    s.add_argument("--venv")
    s.add_argument("--time", default="01:00:00")
    s.add_argument("--cpus", type=int, default=8)
    s.add_argument("--mem", type=int, default=32, help="GB")
    s.set_defaults(func=_cmd_sweep)

    s = sub.add_parser("sweep-summary", help="rank a sweep's runs by their test metric, with plots")
    s.add_argument("runs", nargs="+")
    s.add_argument("--out", required=True)
    s.add_argument("--metric", help="default: the workload's headline metric")
    s.set_defaults(func=_cmd_sweep_summary)

    s = sub.add_parser("plan", help="GPU-hours and cost of a campaign on each measured platform")
    s.add_argument("runs_dirs", nargs="+", metavar="RUNS", help="run folders or folders holding them")
    s.add_argument("--runs", type=int, required=True, help="runs in the campaign")
    s.add_argument("--epochs", type=int, required=True, help="epochs per run")
    s.add_argument("--platforms", help="JSON file overriding or adding platform profiles")
    s.add_argument("--out", help="also write plan.md and plan.json here")
    s.set_defaults(func=_cmd_plan)

    s = sub.add_parser("validate", help="check run folders against the evidence schema and their manifest")
    s.add_argument("run_dirs", nargs="+")
    s.set_defaults(func=_cmd_validate)

    s = sub.add_parser("compare", help="compare run folders across platforms: table (CSV, Markdown) and plots")
    s.add_argument("runs", nargs="+", help="run folders, or folders holding them (e.g. outputs/)")
    s.add_argument("--baseline", required=True, help="platform name among the runs, or a run folder")
    s.add_argument("--out", default="outputs/comparison", help="where the report goes")
    s.add_argument("--platforms", help="JSON file overriding or adding platform profiles (prices)")
    s.add_argument("--no-plots", action="store_true")
    s.set_defaults(func=_cmd_compare)

    s = sub.add_parser("script", help="write the Slurm or HTCondor job for a platform profile")
    s.add_argument("notebook")
    s.add_argument("--platform", required=True)
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--account")
    s.add_argument("--partition", help="default: the profile's")
    s.add_argument("--time", default="01:00:00")
    s.add_argument("--cpus", type=int, default=8)
    s.add_argument("--mem", type=int, default=32, help="GB")
    s.add_argument("--gpus", type=int, help="default: the profile's")
    s.add_argument("--out", default="outputs")
    s.add_argument("--venv", help="virtual environment to activate in the job")
    s.add_argument("--workdir", help="folder the job runs in (Slurm default: the submit folder)")
    s.add_argument("--scheduler", choices=["slurm", "htcondor"], help="default: the profile's")
    s.add_argument("--array", type=int, help="N jobs, one per line of params.txt")
    s.add_argument("--train", choices=["forecasting", "cifar10"],
                   help="data parallel `nairrcore train` over all tasks instead of the notebook")
    s.add_argument("--nodes", type=int, default=1)
    s.add_argument("--tasks-per-node", type=int, default=1, help="one per GPU")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=_cmd_script)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataError) as exc:
        print(f"nairrcore: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
