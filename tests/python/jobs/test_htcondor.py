"""HTCondor submit and DAG files, committed and generated, parsed by
HTCondor's own Python bindings (htcondor2, no pool needed): a syntax error in
a submit description, its queue statement or a DAG cannot ship."""

from __future__ import annotations

import os
import re
from pathlib import Path

import classad2
import htcondor2
import pytest

from nairrcore.jobs import sweep

from conftest import REPO

NUMERIC = ("request_cpus", "request_gpus", "gpus_minimum_capability", "checkpoint_exit_code")
SIZE = re.compile(r"^\d+(\.\d+)?\s*[KMGT]?B?$", re.IGNORECASE)


def parse_submit(path: Path) -> htcondor2.Submit:
    """The submit description as condor_submit reads it; raises on a broken
    file, a broken queue statement or a value that is not a ClassAd."""
    sub = htcondor2.Submit(path.read_text())
    cwd = os.getcwd()
    os.chdir(path.parent)  # "queue ... from FILE" reads FILE beside the submit file
    try:
        items = sub.itemdata()
        items = list(items) if items is not None else []
    finally:
        os.chdir(cwd)
    for key in NUMERIC:
        if key in sub:
            classad2.ExprTree(sub[key])
    for key in ("request_memory", "request_disk"):
        if key in sub and not SIZE.match(sub[key]):
            raise ValueError(f"{path}: {key} = {sub[key]!r} is not a size")
    sub.items_read = items
    return sub


def parse_dag(path: Path, tmp_path: Path) -> htcondor2.Submit:
    """DAGMan's parser behind Submit.from_dag; it only needs to find a
    condor_dagman executable, never runs it."""
    stand_in = tmp_path / "bin" / "condor_dagman"
    stand_in.parent.mkdir(exist_ok=True)
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    cwd, path_var = os.getcwd(), os.environ["PATH"]
    os.chdir(path.parent)
    os.environ["PATH"] = f"{stand_in.parent}{os.pathsep}{path_var}"
    try:
        return htcondor2.Submit.from_dag(path.name, {})
    finally:
        os.chdir(cwd)
        os.environ["PATH"] = path_var


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "scripts" / "htcondor").glob("*.sub")))
def test_committed_submit_files_parse(name, tmp_path):
    path = REPO / "scripts" / "htcondor" / name
    if "from params.txt" in path.read_text():  # a sweep template reads its points beside it
        work = tmp_path / name
        work.write_text(path.read_text())
        (tmp_path / "params.txt").write_text("lr=1e-3 width=16\nlr=1e-2 width=32\n")
        path = work
    sub = parse_submit(path)
    assert (REPO / sub["executable"]).is_file()
    for entry in sub["transfer_input_files"].split(","):
        entry = entry.strip()
        assert entry.endswith(".sif") or (REPO / entry).exists(), entry
    assert sub.getQArgs() == "" or sub.items_read


def test_generated_sweep_submit_and_dag_parse(tmp_path):
    points = sweep.grid_points(sweep.parse_grid(["lr=1e-3,1e-2", "width=16,32"]))
    files = sweep.write_sweep(points, "notebooks/forecasting.ipynb", "chtc", tmp_path / "sweep",
                              fixed=["epochs=1"], scheduler="htcondor")
    sub = parse_submit(files["job"])
    assert sub.getQArgs() == "params from params.txt"
    assert [item["params"] for item in sub.items_read] == [
        "lr=1e-3 width=16", "lr=1e-3 width=32", "lr=1e-2 width=16", "lr=1e-2 width=32"]
    assert "$(params)" in sub["arguments"]
    compare = parse_submit(files["compare"])
    assert compare["universe"] == "local" and "jobs summary" in compare["arguments"]
    dag = parse_dag(files["dag"], tmp_path)
    assert "sweep.dag" in dag["arguments"]


@pytest.mark.parametrize("text", [
    "universe = vanilla\nexecutable = x\nqueue params fromm params.txt\n",
    "universe = vanilla\nexecutable = x\nrequest_cpus = = 2\nqueue\n",
    "universe = vanilla\nexecutable = x\nrequest_memory = lots\nqueue\n",
], ids=["queue statement", "request_cpus", "request_memory"])
def test_a_broken_submit_file_is_caught(text, tmp_path):
    path = tmp_path / "broken.sub"
    path.write_text(text)
    with pytest.raises((ValueError, classad2.ClassAdException, htcondor2.HTCondorException)):
        parse_submit(path)


def test_a_broken_dag_is_caught(tmp_path):
    (tmp_path / "a.sub").write_text("universe = vanilla\nexecutable = x\nqueue\n")
    dag = tmp_path / "broken.dag"
    dag.write_text("JOBB a a.sub\n")
    with pytest.raises(htcondor2.HTCondorException, match="not a valid DAG command"):
        parse_dag(dag, tmp_path)
