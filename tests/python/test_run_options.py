"""How a run executes is one frozen RunOptions: each option defined once,
read from NAIRRCORE_<OPTION> variables in one place, checked, used by every
trainer and recorded with the run."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from nairrcore import cifar10, forecasting as fc
from nairrcore.errors import ConfigError
from nairrcore.evidence import RunRecorder
from nairrcore.jobs.scheduler import JobSpec, render
from nairrcore.training import RunOptions

FIELDS = {f.name: f for f in dataclasses.fields(RunOptions)}
GOOD = {"checkpoint_dir": "/scratch/ck", "checkpoint_minutes": "2.5", "checkpoint_steps": "100",
        "keep_checkpoints": "2", "resume": "never", "preempt_exit_code": "99", "bucket_mb": "50",
        "profile_steps": "20", "cpu_matmul": "blas", "cpu_block_cache": "0"}


def test_every_option_is_read_from_its_variable():
    assert set(GOOD) == set(FIELDS), "a new option needs a case here"
    options = RunOptions.from_env({f"NAIRRCORE_{k.upper()}": v for k, v in GOOD.items()})
    assert options == RunOptions(checkpoint_dir="/scratch/ck", checkpoint_minutes=2.5, checkpoint_steps=100,
                                 keep_checkpoints=2, resume="never", preempt_exit_code=99, bucket_mb=50.0,
                                 profile_steps=20, cpu_matmul="blas", cpu_block_cache=False)
    assert RunOptions.from_env({}) == RunOptions()
    assert RunOptions.from_env({"NAIRRCORE_BUCKET_MB": "50"}, bucket_mb=10.0).bucket_mb == 10.0  # arguments win
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.bucket_mb = 1.0


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(FIELDS)), raw=st.text(max_size=12))
def test_a_bad_value_is_refused_naming_its_variable(name, raw):
    var = f"NAIRRCORE_{name.upper()}"
    try:
        options = RunOptions.from_env({var: raw})
    except ConfigError as exc:
        assert str(exc).startswith(f"{var}: "), str(exc)
        return
    assert getattr(options, name) is not None or not raw.strip()


@pytest.mark.parametrize("workload", [fc.WORKLOAD, cifar10.WORKLOAD])
def test_no_run_option_variable_is_taken_for_a_misspelt_workload_setting(workload):
    # a workload's settings refuse NAIRRCORE_ variables that name nothing; every option's variable names something
    for name, raw in GOOD.items():
        assert workload.config(environ={f"NAIRRCORE_{name.upper()}": raw}) == workload.config(environ={})
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        workload.config(environ={"NAIRRCORE_EPOCH": "1"})


def test_a_run_records_its_options_and_the_trainer_uses_them(tmp_path, weather_dir):
    config = fc.WORKLOAD.config(data=str(weather_dir), cities=2, width=16, depth=1, epochs=2, device="cpu")
    data = fc.WORKLOAD.load_data(config)
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), checkpoint_steps=1, keep_checkpoints=1)
    trainer = fc.WORKLOAD.trainer(config, data, options=options)
    rec = RunRecorder(tmp_path / "run", "forecasting")
    rec.trainer(trainer, data)
    trainer.fit(data, recorder=rec)
    rec.finish("completed")
    recorded = json.loads((rec.run_dir / "run_config.json").read_text())["run_options"]
    assert recorded == options.as_dict()
    assert len(list((tmp_path / "ck").glob("ckpt-*.pt"))) == 1  # every step, one kept


def test_job_files_act_on_the_same_exit_code():
    code = RunOptions.preempt_exit_code
    slurm = render(JobSpec(notebook="notebooks/weather_pandas.ipynb", platform="delta", scheduler="slurm"))
    condor = render(JobSpec(notebook="notebooks/weather_pandas.ipynb", platform="chtc", scheduler="htcondor"))
    assert f'-eq {code} ]; then scontrol requeue' in slurm
    assert f"checkpoint_exit_code = {code}" in condor
