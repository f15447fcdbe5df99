"""The command line as the README documents it: every command in its
reference block parses, every group and action of ``nairrcore --help``
appears there."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from nairrcore.cli import build_parser, parse_args

from conftest import REPO

NAIRRCORE = [sys.executable, "-m", "nairrcore"]


def _readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        if "nairrcore" in argv:
            commands.append(argv[argv.index("nairrcore") + 1:])
    return commands


def _actions(parser) -> dict[str, object]:
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices


def test_every_readme_command_parses():
    commands = _readme_commands()
    assert len(commands) >= 10
    for argv in commands:
        try:
            parse_args(argv)
        except SystemExit:
            pytest.fail(f"README command does not parse: nairrcore {' '.join(argv)}")


def test_the_readme_covers_every_command_of_the_help():
    documented = {tuple(argv[:2]) for argv in _readme_commands()} | {(argv[0],) for argv in _readme_commands()}
    for name, parser in _actions(build_parser()).items():
        groups = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if groups:
            for action in groups[0].choices:
                assert (name, action) in documented, f"README lacks 'nairrcore {name} {action}'"
        else:
            assert (name,) in documented, f"README lacks 'nairrcore {name}'"


@pytest.mark.slow
def test_help_lists_the_groups():
    out = subprocess.run([*NAIRRCORE, "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for group in ("info", "data", "run", "train", "report", "jobs"):
        assert re.search(rf"^\s+{group}\s", out.stdout, re.M), group
    out = subprocess.run([*NAIRRCORE, "run", "x.ipynb", "--platform", "moon"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown platform 'moon'" in out.stderr


