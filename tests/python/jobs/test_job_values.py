"""Values pasted into generated job files: every option that reaches a
Slurm script, an HTCondor submit file or a sweep's parameter table is
checked when the file is made. Arbitrary strings (line ends, quotes, $(...),
#SBATCH, queue, non-ASCII) either raise a ConfigError naming the option, or
give a file that holds exactly the intended directives, as bash and
HTCondor's own parser read it."""

from __future__ import annotations

import subprocess

import htcondor2
import pytest
from hypothesis import example, given, settings, strategies as st

from nairrcore.errors import ConfigError
from nairrcore.jobs import sweep
from nairrcore.jobs.scheduler import JobSpec, render

from conftest import REPO

NOTEBOOK = "notebooks/weather_pandas.ipynb"
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["ACCT\n#SBATCH --wrap=touch /tmp/x", "a b", "$(id)", "`id`", "x;rm -rf ~", "x\"y", "x'y",
                     "queue 10", "p\nqueue", "é", "#SBATCH", "--x", "x\\", "a\rb", "64;rm", "1e-3", "acct_1"]),
)
OPTIONS = ["account", "partition", "time", "venv", "out", "workdir", "notebook", "param_value", "param_key"]


def _spec(option: str, value: str, scheduler: str) -> JobSpec:
    fields = {"notebook": NOTEBOOK, "platform": "delta", "account": "acct", "partition": "gpuA100x4",
              "venv": "/opt/venv", "scheduler": scheduler, "params": ["epochs=2"]}
    if option == "param_value":
        fields["params"] = [f"epochs={value}"]
    elif option == "param_key":
        fields["params"] = [f"{value}=2"]
    else:
        fields["memory_gb" if option == "mem" else option] = value
    return JobSpec(**fields)


def _sbatch_directives(text: str) -> list[str]:
    return [line.split("=", 1)[0].split()[1] for line in text.splitlines() if line.startswith("#SBATCH")]


BASE_SLURM = render(_spec("account", "acct", "slurm"))
BASE_CONDOR = htcondor2.Submit(render(_spec("account", "acct", "htcondor")))


@settings(max_examples=60, deadline=None)
@given(option=st.sampled_from(OPTIONS), value=HOSTILE)
def test_a_slurm_script_holds_exactly_its_directives_or_is_refused(option, value):
    try:
        text = render(_spec(option, value, "slurm"))
    except ConfigError as exc:
        assert option.split("_")[-1] in str(exc) or option in str(exc) or "--" in str(exc)
        return
    assert _sbatch_directives(text) == _sbatch_directives(BASE_SLURM)
    assert len(text.splitlines()) == len(BASE_SLURM.splitlines())
    assert subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0
    if option in ("account", "partition", "time"):
        assert f"#SBATCH --{option}={value}" in text


@settings(max_examples=60, deadline=None)
@given(option=st.sampled_from([o for o in OPTIONS if o not in ("venv", "workdir")]), value=HOSTILE)
def test_an_htcondor_submit_file_holds_exactly_its_commands_or_is_refused(option, value):
    try:
        text = render(_spec(option, value, "htcondor"))
    except ConfigError:
        return
    sub = htcondor2.Submit(text)
    assert sorted(sub.keys()) == sorted(BASE_CONDOR.keys())
    assert text.count("\nqueue") == 1 and sub.getQArgs() == BASE_CONDOR.getQArgs()


@pytest.mark.parametrize("case", ["account", "grid"])
def test_the_reported_cases_are_refused_naming_the_option_and_write_nothing(case, tmp_path):
    if case == "account":
        with pytest.raises(ConfigError, match="--account: 'ACCT\\\\n#SBATCH --wrap=touch /tmp/x' is not an account"):
            render(_spec("account", "ACCT\n#SBATCH --wrap=touch /tmp/x", "slurm"))
        return
    with pytest.raises(ConfigError, match="--grid width: '64;rm' is not a plain value"):
        sweep.write_sweep([{"width": "64;rm"}], str(REPO / "notebooks" / "forecasting.ipynb"), "delta", tmp_path)
    assert not any(tmp_path.iterdir())


def test_settings_in_a_job_are_checked_against_the_workload_as_run_checks_them(tmp_path):
    forecasting = str(REPO / "notebooks" / "forecasting.ipynb")
    for bad, why in (("width=abc", "WIDTH: cannot parse 'abc'"), ("widht=64", "did you mean 'width'"),
                     ("width=0", "width")):
        with pytest.raises(ConfigError, match=why):
            sweep.write_sweep([{bad.split("=")[0]: bad.split("=")[1]}], forecasting, "delta", tmp_path)
    files = sweep.write_sweep([{"width": "64"}, {"width": "128"}], forecasting, "delta", tmp_path)
    assert (tmp_path / "params.txt").read_text() == "width=64\nwidth=128\n" and files["job"].is_file()


@pytest.mark.slow
def test_slurm_itself_accepts_every_script_nairrcore_writes(slurm, tmp_path):
    """sbatch --test-only reads each accepted script's directives as Slurm
    would at submission; the local cluster's partition and resources stand in
    for the platform's (the command line overrides them)."""
    partition = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True).stdout.split()[0]
    local = ["--partition", partition.rstrip("*"), "--gres=none", "--mem=1G", "--cpus-per-task=1"]

    @settings(max_examples=40, deadline=None)
    @given(option=st.sampled_from(["account", "time", "out", "param_value"]), value=HOSTILE)
    @example(option="account", value="acct_1.x")
    @example(option="time", value="1-02:00:00")
    @example(option="param_value", value="0.5")
    def check(option, value):
        try:
            text = render(_spec(option, value, "slurm"))
        except ConfigError:
            return
        script = tmp_path / "job.sh"
        script.write_text(text)
        out = subprocess.run(["sbatch", "--test-only", *local, str(script)], capture_output=True, text=True)
        assert out.returncode == 0, (option, value, out.stderr)

    check()
