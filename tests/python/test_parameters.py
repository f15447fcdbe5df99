"""Notebook parameters the way papermill gives them: a cell of Python
literals after the cell tagged ``parameters``. ``nairrcore run --param`` and
``papermill -p`` give the same values, and the built-in notebooks build the
same settings from them."""

from __future__ import annotations

import copy
import json
import keyword
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from nairrcore.errors import ConfigError
from nairrcore.execute import inject_parameters, notebook_parameters, run_notebook
from nairrcore.settings import literal

from conftest import REPO

papermill = pytest.importorskip("papermill")
from papermill.cli import _resolve_type  # noqa: E402  (papermill's own reading of `-p KEY VALUE`)
from papermill.parameterize import parameterize_notebook  # noqa: E402

values = st.one_of(st.text(max_size=12), st.integers().map(str), st.floats(allow_nan=True).map(repr),
                   st.sampled_from(["True", "False", "None", "true", "1e3", "-0", "0x10", "1_000", " 7", "3,4"]))


@settings(max_examples=400, deadline=None)
@given(values)
def test_a_value_is_read_as_papermill_reads_it(text):
    ours, theirs = literal(text), _resolve_type(text)
    assert type(ours) is type(theirs) and (ours == theirs or ours != ours and theirs != theirs)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), values, max_size=4))
def test_the_injected_cell_sets_what_papermills_sets(raw):
    raw = {k: v for k, v in raw.items() if not keyword.iskeyword(k)}
    params = notebook_parameters(raw)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("b = 2", metadata={"tags": []})])
    nb.metadata["papermill"] = {}  # as papermill's own loader leaves a notebook
    ours = copy.deepcopy(nb)
    inject_parameters(ours, params)
    theirs = parameterize_notebook(copy.deepcopy(nb), {k: _resolve_type(v) for k, v in raw.items()},
                                   kernel_name="python3", language="python")
    a, b = _executed(ours.cells, params), _executed(theirs.cells, params)
    assert json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)
    assert [c.source for c in ours.cells if "injected-parameters" not in c.metadata.get("tags", [])] == \
        ["a = 1", "b = 2"]
    if params:
        assert "injected-parameters" in ours.cells[1].metadata["tags"]


def _executed(cells, names) -> dict:
    namespace: dict = {}
    for c in cells:
        exec(c.source, namespace)
    return {k: v for k, v in namespace.items() if k in names}


@pytest.mark.parametrize("name", ["1x", "a-b", "import os;x", "class", ""])
def test_a_name_that_is_not_a_python_name_is_refused(name):
    with pytest.raises(ConfigError, match="--param"):
        notebook_parameters([f"{name}=1"])


def _up_to_config(notebook: Path, dest: Path) -> Path:
    """The notebook's cells up to the one that builds the settings (what the parameters decide)."""
    nb = nbformat.read(notebook, as_version=4)
    cut = next(i for i, c in enumerate(nb.cells) if "namespace=globals()" in c.source)
    nb.cells = nb.cells[:cut + 1]
    nbformat.write(nb, dest / notebook.name)
    if (notebook.parent / "example_regression.py").is_file():
        (dest / "example_regression.py").write_text((notebook.parent / "example_regression.py").read_text())
    return dest / notebook.name


def _settings_printed(nb) -> str:
    cell = next(c for c in nb.cells if "namespace=globals()" in c.source)
    return cell.outputs[-1]["data"]["text/plain"]


CASES = {
    "forecasting": {"epochs": "3", "lr": "0.002", "device": "cpu", "cities": "5", "in_memory": "True",
                    "lags": "1,7", "data": "None"},
    "cifar10": {"model": "fastnet", "widths": "16,32,32", "train_limit": "100", "lr": "None", "flip": "False"},
    "example_regression": {"rows": "1000", "epochs": "1"},
}


@pytest.mark.slow
@pytest.mark.parametrize("workload", sorted(CASES))
def test_papermill_and_nairrcore_run_build_the_same_settings(workload, tmp_path):
    notebook = _up_to_config(REPO / "notebooks" / f"{workload}.ipynb", tmp_path)
    raw = CASES[workload]
    papermill.execute_notebook(str(notebook), str(tmp_path / "pm.ipynb"), kernel_name="python3", progress_bar=False,
                               parameters={k: _resolve_type(v) for k, v in raw.items()}, cwd=str(tmp_path))
    theirs = nbformat.read(tmp_path / "pm.ipynb", as_version=4)
    run_dir = run_notebook(notebook, params=[f"{k}={v}" for k, v in raw.items()], out=tmp_path / "out",
                           quiet=True)
    ours = nbformat.read(run_dir / notebook.name, as_version=4)
    printed = _settings_printed(ours)
    assert printed == _settings_printed(theirs)
    assert "'epochs': 3" in printed or "'epochs': 1" in printed or workload == "cifar10"
    if workload == "cifar10":
        assert "'widths': (16, 32, 32)" in printed and "'flip': False" in printed


@pytest.mark.slow
def test_an_unknown_parameter_of_a_builtin_notebook_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="'epoch' is not a ForecastConfig setting; did you mean 'epochs'"):
        run_notebook(REPO / "notebooks" / "forecasting.ipynb", params=["epoch=3"], out=tmp_path, quiet=True)
    assert not any(tmp_path.iterdir())
