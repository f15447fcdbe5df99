"""The researcher's own code, unchanged: a notebook, a script or a command
that never imports nairrcore runs under ``nairrcore run`` into a complete run
folder (status, per-cell times in the notebook's papermill metadata and in
steps.csv, telemetry of its processes sampled from outside, environment,
manifest) that ``report validate``, ``compare`` and ``plan`` read; two runs
of the same code, parameters and inputs compare, others are refused with
the reason."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nairrcore.errors import ConfigError
from nairrcore.evidence import validate_run
from nairrcore.evidence.code import InputHasher
from nairrcore.execute import RunFailed, command_line, run_command, run_notebook
from nairrcore.reports import plan as planning
from nairrcore.reports.compare import compare

pytestmark = pytest.mark.slow

TRAIN = """import torch
torch.manual_seed(0)
x = torch.randn(4096, 16)
y = x @ torch.randn(16, 1) + 0.1 * torch.randn(4096, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=256, shuffle=True)
model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt = torch.optim.AdamW(model.parameters(), lr=lr)
for epoch in range(epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
"""


def plain_notebook(path: Path, *, last: str = "print('done')") -> Path:
    """A notebook of the researcher's own: parameters, tensors and a model; no nairrcore."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# my training"),
                nbformat.v4.new_code_cell("epochs = 2\nlr = 1e-2", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(TRAIN), nbformat.v4.new_code_cell(last)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def plain_script(path: Path, body: str = "") -> Path:
    path.write_text("import argparse\np = argparse.ArgumentParser()\np.add_argument('--epochs', type=int, default=2)\n"
                    "p.add_argument('--lr', type=float, default=1e-2)\nargs = p.parse_args()\n"
                    "epochs, lr = args.epochs, args.lr\n" + TRAIN + body)
    return path


def test_plain_notebook_completes_with_cell_times_telemetry_and_a_valid_folder(tmp_path, cpu_burner):
    notebook = plain_notebook(tmp_path / "mytrain.ipynb")
    run_dir = run_notebook(notebook, params=["epochs=3"], out=tmp_path / "out", quiet=True)
    assert run_dir.parent.name == "mytrain.ipynb" and run_dir.parent.parent.name == "laptop"
    assert validate_run(run_dir) == []
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["kind"] == "plain" and summary["steps"] == 4
    assert summary["wall_sec"] >= summary["steps_sec"] > 0 and summary["peak_host_rss_bytes"] > 50e6
    assert summary["energy"]["gpu_j"] is None and summary["energy"]["reason"]  # no GPU here: why, never 0
    executed = nbformat.read(run_dir / "mytrain.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert "injected-parameters" in code[1].metadata["tags"] and "epochs = 3" in code[1].source
    # the kernel may send the three lines as one stream message or several (a loaded machine splits them)
    printed = "".join(o.get("text", "") for o in code[2].outputs if o.get("output_type") == "stream")
    assert printed.count("epoch ") == 3
    for cell in code:
        pm = cell.metadata["papermill"]
        assert pm["status"] == "completed" and pm["duration"] >= 0 and pm["end_time"] >= pm["start_time"]
    assert executed.metadata["papermill"]["parameters"] == {"epochs": 3}
    steps = list(csv.DictReader(open(run_dir / "steps.csv")))
    assert [int(s["step"]) for s in steps] == [1, 2, 3, 4] and all(s["status"] == "completed" for s in steps)
    assert steps[2]["label"] == "import torch"
    assert float(steps[3]["duration_sec"]) == pytest.approx(code[3].metadata["papermill"]["duration"])
    rows = list(csv.DictReader(open(run_dir / "telemetry.csv")))
    assert {r["phase"] for r in rows} >= {"cell_3"} and all(int(r["rss_bytes"]) > 0 for r in rows)
    assert max(float(r["cpu_percent"]) for r in rows) > 10  # the kernel trained, seen from outside
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["code"]["kind"] == "notebook" and meta["code"]["path"] == str(notebook.resolve())
    assert len(meta["code"]["sha256"]) == 64 and meta["parameters"] == {"epochs": 3} and meta["inputs"] is None
    assert "steps.csv" in (run_dir / "MANIFEST.sha256").read_text()
    assert "did not record itself" in (run_dir / "README.md").read_text()


def test_a_cell_that_raises_fails_the_run_and_keeps_the_times_before_it(tmp_path):
    notebook = plain_notebook(tmp_path / "broken.ipynb", last="raise ValueError('demo cell broken')")
    with pytest.raises(RunFailed) as failed:
        run_notebook(notebook, out=tmp_path / "out", quiet=True)
    run_dir = failed.value.run_dir
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "ValueError: demo cell broken"
    steps = list(csv.DictReader(open(run_dir / "steps.csv")))
    assert [s["status"] for s in steps] == ["completed", "completed", "failed"]
    assert all(float(s["duration_sec"]) >= 0 for s in steps) and float(steps[1]["duration_sec"]) > 0.05
    assert list(csv.DictReader(open(run_dir / "telemetry.csv")))
    assert validate_run(run_dir) == []  # an intact record of a failed run
    with pytest.raises(ConfigError, match="no completed runs"):
        compare([run_dir], "laptop", plots=False)


def test_a_script_and_a_command_run_the_same_way(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = plain_script(tmp_path / "train.py")
    argv, name, code = command_line(str(script), [], {"epochs": "1"})
    assert argv == [sys.executable, str(script), "--epochs=1"] and name == "train.py"
    assert code == ["python", str(script)]  # the interpreter's path and the parameters are not its code
    run_dir = run_command(argv, name, out=tmp_path / "out", code=code, parameters={"epochs": "1"}, echo=False)
    assert validate_run(run_dir) == [] and run_dir.parent.name == "train.py"
    assert "epoch 0: loss" in (run_dir / "command_output.txt").read_text()
    steps = list(csv.DictReader(open(run_dir / "steps.csv")))
    assert len(steps) == 1 and steps[0]["kind"] == "command" and float(steps[0]["duration_sec"]) > 0
    argv, name, _ = command_line(None, ["sh", "-c", "echo working; exit 3"], {})
    with pytest.raises(RunFailed) as failed:
        run_command(argv, "exits-3", out=tmp_path / "out", echo=False)
    summary = json.loads((failed.value.run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "exit code 3: working"
    assert validate_run(failed.value.run_dir) == []


def test_the_command_line_runs_a_script_with_arguments_and_a_command(tmp_path):
    script = plain_script(tmp_path / "train.py")
    env = {**os.environ, "NAIRRCORE_OUTPUTS": str(tmp_path / "out")}
    for args in ([str(script), "--", "--epochs", "1"], ["--name", "inline", "--", sys.executable, str(script)]):
        result = subprocess.run([sys.executable, "-m", "nairrcore", "run", "--platform", "laptop", *args],
                                capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "status      completed" in result.stdout and "epoch 0: loss" in result.stdout
    folders = sorted(p.name for p in (tmp_path / "out" / "laptop").iterdir())
    assert folders == ["inline", "train.py"]


def test_bad_input_is_refused_by_name_before_any_folder_is_made(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{ not json")
    notebook = plain_notebook(tmp_path / "fine.ipynb")
    cases = [(lambda: run_notebook(tmp_path / "broken.ipynb", out=tmp_path / "out"), "broken.ipynb: not a readable"),
             (lambda: run_notebook(notebook, params=["a-b=1"], out=tmp_path / "out"), "not a Python name"),
             (lambda: run_notebook(notebook, inputs=[str(tmp_path / "nope")], out=tmp_path / "out"), "--input"),
             (lambda: run_notebook(notebook, platform="moon", out=tmp_path / "out"), "unknown platform"),
             (lambda: command_line(str(tmp_path / "missing.py"), [], {}), "does not exist"),
             (lambda: command_line("train.txt", [], {}), "expected a notebook")]
    for call, why in cases:
        with pytest.raises(ConfigError, match=why):
            call()
    assert not (tmp_path / "out").exists()


def test_a_notebook_called_like_a_builtin_workload_is_filed_under_its_own_name(tmp_path):
    notebook = plain_notebook(tmp_path / "forecasting.ipynb")
    # not ForecastConfig's: `lr` and `epochs` are also its names, `made_up` is not, and is not refused
    run_dir = run_notebook(notebook, params=["epochs=1", "made_up=1"], out=tmp_path / "out", quiet=True)
    assert run_dir.parent.name == "forecasting.ipynb"
    assert json.loads((run_dir / "run_summary.json").read_text())["workload"] == "forecasting.ipynb"


def _runs_of(script: Path, tmp_path: Path, platform: str, **kw) -> Path:
    params = kw.pop("params", {})
    argv, name, code = command_line(str(script), [], params)
    return run_command(argv, name, platform, tmp_path / "out", code=code, parameters=params, echo=False, **kw)


def test_two_plain_runs_of_the_same_code_compare_and_unlike_ones_are_refused_saying_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    script = plain_script(tmp_path / "train.py")
    base = _runs_of(script, tmp_path, "laptop", inputs=[str(data)])
    same = _runs_of(script, tmp_path, "jetstream2", inputs=[str(data)])
    rows = compare([base, same], "laptop", plots=False)
    other = next(r for r in rows if r["platform"] == "jetstream2")
    assert other["comparable"] and other["speedup_total"] > 0 and "inputs not verified" not in other["note"]
    cases = {"code": dict(edit=True), "parameters differ from the baseline's in epochs": dict(params={"epochs": "1"}),
             "inputs differ": dict(change_input=True)}
    for reason, case in cases.items():
        if case.get("edit"):
            plain_script(tmp_path / "train.py", body="print('edited')\n")
        if case.get("change_input"):
            (data / "a.csv").write_text("1,3\n")
        unlike = _runs_of(script, tmp_path, "jetstream2", inputs=[str(data)], params=case.get("params", {}))
        row = next(r for r in compare([base, unlike], "laptop", plots=False) if r["platform"] == "jetstream2")
        assert not row["comparable"] and row["speedup_total"] is None and reason in row["note"], row["note"]
        plain_script(tmp_path / "train.py")
        (data / "a.csv").write_text("1,2\n")
    undeclared = [_runs_of(script, tmp_path, p) for p in ("laptop", "jetstream2")]
    rows = compare(undeclared, "laptop", out_dir=tmp_path / "report", plots=False)
    assert all(r["comparable"] and "inputs not verified" in r["note"] for r in rows)
    assert "Time per step of train.py" in (tmp_path / "report" / "comparison.md").read_text()
    planned = planning.plan(undeclared, runs=10, epochs=50)
    assert all(p["sec_per_epoch"] is None and p["campaign_epochs"] is None for p in planned)
    wall = json.loads((undeclared[0] / "run_summary.json").read_text())["wall_sec"]
    assert next(p for p in planned if p["platform"] == "laptop")["hours_per_run"] == pytest.approx(wall / 3600)


def test_declared_inputs_are_hashed_by_content_and_read_once_per_change(tmp_path):
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        (folder / "sub" / f"{i}.bin").write_bytes(os.urandom(1000))
    hasher = InputHasher(tmp_path / "cache.json")
    first = hasher.inputs([str(folder)])
    assert hasher.files_read == 5 and first[0]["files"] == 5 and first[0]["bytes"] == 5000
    again = InputHasher(tmp_path / "cache.json")
    assert again.inputs([str(folder)]) == first and again.files_read == 0
    (folder / "sub" / "3.bin").write_bytes(os.urandom(1000))
    changed = InputHasher(tmp_path / "cache.json")
    assert changed.inputs([str(folder)])[0]["sha256"] != first[0]["sha256"] and changed.files_read == 1
    with pytest.raises(ConfigError, match="--input: .*missing"):
        InputHasher(tmp_path / "cache.json").inputs([str(tmp_path / "missing")])


def test_batch_jobs_take_a_plain_script_and_record_the_same_evidence(tmp_path, monkeypatch):
    from nairrcore.jobs import sweep
    from nairrcore.jobs.scheduler import JobSpec, render

    monkeypatch.chdir(tmp_path)
    script = plain_script(tmp_path / "train.py")
    slurm = render(JobSpec(notebook=str(script), platform="delta", params=["epochs=1"], account="acct"))
    srun = next(line for line in slurm.splitlines() if line.startswith("srun "))
    assert f"nairrcore run {script} --platform delta" in srun and "--param epochs=1" in srun
    assert subprocess.run(["bash", "-n"], input=slurm, text=True).returncode == 0
    condor = render(JobSpec(notebook=str(script), platform="chtc", params=["epochs=1"]))
    assert "arguments = train.py chtc epochs=1" in condor and f", {script}, scripts/htcondor" in condor
    # what the job runs, here: the command of its srun line, on this machine's CPU
    command = srun.removeprefix("srun ").split(" || ")[0].replace("nairrcore run", f"{sys.executable} -m nairrcore run")
    command = command.replace("--platform delta", "--platform laptop").replace(" --gpu", "")
    env = {**os.environ, "NAIRRCORE_OUTPUTS": str(tmp_path / "job-out")}
    done = subprocess.run(["bash", "-c", command.replace("--out outputs", f"--out {tmp_path / 'job-out'}")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (tmp_path / "job-out" / "laptop" / "train.py").iterdir()
    assert validate_run(run_dir) == [] and json.loads((run_dir / "run_metadata.json").read_text())[
        "parameters"] == {"epochs": "1"}
    runs = sweep.run_local([{"lr": "0.01"}, {"lr": "0.001"}], str(script), "laptop", tmp_path / "sweep", ["epochs=1"])
    assert [json.loads((r / "run_metadata.json").read_text())["parameters"] for r in runs] == [
        {"epochs": "1", "lr": "0.01"}, {"epochs": "1", "lr": "0.001"}]
    assert all(validate_run(r) == [] for r in runs)
