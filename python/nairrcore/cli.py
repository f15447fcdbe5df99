"""The ``nairrcore`` command line."""

from __future__ import annotations

import argparse
import json
import sys

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
                               require_gpu=args.gpu, quiet=args.quiet)
    except NotebookFailed as exc:
        print(f"notebook failed; partial evidence kept in {exc.run_dir}\n{exc}", file=sys.stderr)
        return 1
    print(run_dir)
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
    s.set_defaults(func=_cmd_run)
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
