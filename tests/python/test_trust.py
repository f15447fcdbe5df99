"""Inputs and evidence that must never give a silent wrong result: rows that
would shift columns, numbers outside their physical range, text that is not
UTF-8, settings that name nothing, a resume under other settings, a run that
diverges, broken archives, checkpoints and run folders. Each gives a clear
DataError/ConfigError (or a validator line) naming the file, line or setting,
and the command line exits non-zero with one line and no traceback."""

from __future__ import annotations

import io
import json
import lzma
import pickletools
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import hypothesis
import pytest
import torch
from hypothesis import strategies as st

from nairrcore import forecasting as fc
from nairrcore._native import core
from nairrcore.errors import ConfigError, DataError
from nairrcore.evidence import validate_run
from nairrcore.training import CheckpointManager

from conftest import CIFAR_DIR, REPO, WEATHER_ARCHIVE

CITY = "USW00023044"  # El Paso
NAIRRCORE = [sys.executable, "-m", "nairrcore"]


@pytest.fixture
def usdata(weather_dir, tmp_path) -> Path:
    d = tmp_path / "USdata"
    d.mkdir()
    shutil.copy(weather_dir / "city_info.csv", d / "city_info.csv")
    shutil.copy(weather_dir / f"{CITY}.csv", d / f"{CITY}.csv")
    return d


def _replace_line(path: Path, number: int, text: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = text
    path.write_bytes(b"\n".join(lines))


CITY_CASES = {
    # name: (line 3 of the city file, text the error must hold)
    "a field too many": (b'"2",1901-05-23,1,5,44,0', ":3: expected 5 fields (as the header), got 6"),
    "a field too few": (b'"2",1901-05-23,1,5', ":3: expected 5 fields (as the header), got 4"),
    "overflows float32": (b'"2",1901-05-23,1e39,5,0', ":3: column 'tmax': 1e+39 is outside the plausible range"),
    "overflows double": (b'"2",1901-05-23,1,1e300,0', ":3: column 'tmin': 1e+300 is outside the plausible range"),
    "negative rain": (b'"2",1901-05-23,1,5,-0.5', ":3: column 'prcp': -0.5 is outside the plausible range"),
    "not UTF-8": (b'"2",1901-05-23,\xff\xfe,5,0', ":3: not UTF-8 text (byte \\xff at column 16)"),
    "not a number": (b'"2",1901-05-23,4x,5,0', ":3: column 'tmax': expected a number or NA, got '4x'"),
    "quote left open": (b'"2,1901-05-23,4,5,0', ":3: a quoted field is not closed, or text follows its closing quote"),
}


@pytest.mark.parametrize("case", sorted(CITY_CASES))
def test_a_bad_city_row_names_its_file_and_line(usdata, case):
    line, text = CITY_CASES[case]
    _replace_line(usdata / f"{CITY}.csv", 3, line)
    with pytest.raises(DataError) as info:
        fc.load(usdata, cities=[CITY])
    assert f"{CITY}.csv{text}" in str(info.value), str(info.value)


def test_city_info_text_must_be_utf8_and_coordinates_in_range(usdata):
    info = usdata / "city_info.csv"
    lines = info.read_bytes().split(b"\n")
    _replace_line(info, 2, lines[1].replace(b"Lander", b"Land\xe9r"))  # latin-1, not UTF-8
    with pytest.raises(DataError, match=r"city_info\.csv:2: not UTF-8 text \(byte \\xe9"):
        fc.load(usdata, cities=[CITY], verify=False)
    fields = lines[1].split(b",")
    fields[3] = b"123.5"  # latitude
    _replace_line(info, 2, b",".join(fields))
    with pytest.raises(DataError, match=r"city_info\.csv:2: column 'Lat': 123\.5 is outside"):
        fc.load(usdata, cities=[CITY], verify=False)


def test_the_reader_never_yields_a_non_finite_value_or_a_shifted_row():
    """Property: whatever a city file holds, parsing gives finite numbers (or NaN for NA)
    in range, one per header field, or a DataError."""
    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.just("NA"), st.just(""),
                       st.integers(-10**6, 10**6).map(str), st.text(max_size=5))
    row = st.lists(number, min_size=2, max_size=6)

    @hypothesis.given(st.lists(row, min_size=1, max_size=8))
    @hypothesis.settings(max_examples=300, deadline=None)
    def check(rows):
        lines = ['"",Date,tmax,tmin,prcp']
        for i, fields in enumerate(rows):
            lines.append(",".join([f'"{i}"', f"1950-01-{i + 1:02d}", *fields]))
        try:
            s = core.parse_city_series("\n".join(lines).encode("utf-8", "surrogatepass"), "p.csv")
        except DataError:
            return
        assert all(len(r) == 3 for r in rows)  # accepted only with one value per column
        for name in ("tmax", "tmin", "prcp"):
            t = s[name]
            assert not torch.isinf(t).any()
            finite = t[~torch.isnan(t)]
            assert ((finite >= -100) & (finite <= 150)).all()

    check()


@pytest.mark.slow
def test_settings_that_name_nothing_are_refused_with_the_close_match():
    with pytest.raises(ConfigError, match="'epoch' is not a ForecastConfig setting; did you mean 'epochs'"):
        fc.WORKLOAD.config(environ={"NAIRRCORE_EPOCH": "0"})
    with pytest.raises(ConfigError, match="did you mean 'width'"):
        fc.WORKLOAD.config(widht=3)
    with pytest.raises(ConfigError, match="cities: expected a count of 0..210"):
        fc.load(None, cities=-1)
    with pytest.raises(ConfigError, match="lr: expected a finite value > 0, got inf"):
        fc.ForecastConfig(lr=float("inf")).validated()
    out = subprocess.run([*NAIRRCORE, "train", "forecasting", "--no-record", "--param", "epoch=0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "did you mean 'epochs'" in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


TRAIN = ["--param", "cities=2", "--param", "width=32", "--param", "depth=2", "--param", "batch_size=512",
         "--param", "device=cpu"]


@pytest.mark.slow
def test_resume_under_other_settings_is_an_error_naming_them(weather_dir, tmp_path):
    def train(*params, resume="auto"):
        cmd = [*NAIRRCORE, "train", "forecasting", "--quiet", "--no-record", "--checkpoint-dir", str(tmp_path / "ck"),
               "--resume", resume, *TRAIN, "--param", f"data={weather_dir}", *params]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    first = train("--param", "epochs=1")
    assert first.returncode == 0, first.stderr[-2000:]
    wider = train("--param", "epochs=1", "--param", "width=64")
    assert wider.returncode == 2 and "width 32 -> 64" in wider.stderr and "--resume never" in wider.stderr
    assert train("--param", "epochs=1", "--param", "lr=0.01").returncode == 2
    fresh = train("--param", "epochs=1", "--param", "width=64", resume="never")
    assert fresh.returncode == 0, fresh.stderr[-2000:]


def _second_half_lost(blob: bytes) -> bytes:
    return blob[:len(blob) // 2] + b"\x00" * (len(blob) - len(blob) // 2)


def _string_claims_2_gib(blob: bytes) -> bytes:
    """The first BINUNICODE string in data.pkl claims 2 GiB (the importer would
    reserve that much before finding the record too short)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data.pkl"))
        pickle_bytes = archive.read(info)
    header = blob[info.header_offset:info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    assert blob[start:start + len(pickle_bytes)] == pickle_bytes  # stored, not compressed
    at = start + next(pos for op, _, pos in pickletools.genops(pickle_bytes) if op.name == "BINUNICODE")
    return blob[:at + 1] + (2**31 - 1).to_bytes(4, "little") + blob[at + 5:]


@pytest.mark.parametrize("damage, why", [(_second_half_lost, "training state: unreadable"),
                                         (_string_claims_2_gib, "past the record's end")],
                         ids=["second half lost", "a string claims 2 GiB"])
@pytest.mark.slow
def test_a_damaged_training_state_under_a_good_checksum_is_a_data_error_naming_the_file(weather_dir, tmp_path,
                                                                                          damage, why):
    """A checkpoint written whole (its checksum matches) whose training state
    is not one nairrcore can read, e.g. bytes from another tool: one line naming it."""
    ck = tmp_path / "ck"
    base = [*NAIRRCORE, "train", "forecasting", "--quiet", "--no-record", "--checkpoint-dir", str(ck), *TRAIN,
            "--param", f"data={weather_dir}", "--param", "epochs=1"]
    assert subprocess.run(base, capture_output=True, timeout=300).returncode == 0
    path = CheckpointManager(ck).checkpoints()[0]
    state = torch.load(path, weights_only=False)
    state["core"] = damage(bytes(state["core"]))
    damaged = CheckpointManager(ck, keep=10).save(state, int(path.name[5:14]) + 1)
    out = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"nairrcore: error: {damaged}: training state: unreadable" in out.stderr
    assert why in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_a_run_that_diverges_stops_and_is_marked_failed(weather_dir, tmp_path):
    cmd = [*NAIRRCORE, "train", "forecasting", "--quiet", "--outputs", str(tmp_path), *TRAIN,
           "--param", f"data={weather_dir}", "--param", "epochs=3", "--param", "lr=1e6"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "training diverged in epoch" in out.stderr
    run_dir = next((tmp_path / "laptop" / "forecasting").iterdir())
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "failed" and "diverged" in summary["error"]
    assert summary["epochs"] < 3 and validate_run(run_dir) == []


def test_broken_archives_are_data_errors_naming_them(tmp_path):
    corrupt = tmp_path / "us-210-cities-daily.tar.xz"
    corrupt.write_bytes(lzma.compress(b"x" * 1000)[:40])
    with pytest.raises(DataError, match="us-210-cities-daily.tar.xz: cannot read archive"):
        fc.load(corrupt, cities=2, in_memory=True)
    # a truncated copy of the real archive
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(WEATHER_ARCHIVE.read_bytes()[:2_000_000])
    with pytest.raises(DataError, match="cut.tar.xz"):
        fc.load(cut, cities=2, in_memory=True)
    # a truncated CIFAR-10 .tar.gz, read and fetched
    members = tmp_path / "cifar-10-batches-bin"
    members.mkdir()
    for f in sorted(CIFAR_DIR.glob("*.bin.xz"))[:2]:
        (members / f.name.removesuffix(".xz")).write_bytes(lzma.decompress(f.read_bytes()))
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(members, arcname="cifar-10-batches-bin")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    from nairrcore import cifar10
    from nairrcore.data import fetch

    with pytest.raises(DataError, match="cifar-10-binary.tar.gz: cannot read archive"):
        cifar10.load(archive)
    with pytest.raises(DataError, match=str(archive)) as info:
        fetch("cifar10", dest=tmp_path / "cache", source=archive)
    assert ".partial" not in str(info.value)
    assert not any((tmp_path / "cache").rglob("*.bin"))


def test_an_unreadable_checksum_skips_the_checkpoint(tmp_path):
    m = CheckpointManager(tmp_path)
    m.save({"steps": 1}, 1)
    newest = m.save({"steps": 2}, 2)
    newest.with_suffix(".pt.sha256").write_text("")
    with pytest.warns(UserWarning, match="skipping this checkpoint"):
        state, _ = m.latest()
    assert state["steps"] == 1
    newest.with_suffix(".pt.sha256").write_bytes(b"\xff\xfe\x00")
    with pytest.warns(UserWarning):
        assert m.latest()[0]["steps"] == 1


@pytest.mark.slow
def test_the_validator_reports_broken_files_as_lines_and_never_raises(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert validate_run(run) == [f"{run / 'run_summary.json'}: missing"]
    (run / "run_summary.json").write_text("{not json")
    assert validate_run(run) == ["run_summary.json: not valid JSON (line 1: Expecting property name enclosed in "
                                 "double quotes)"]
    (run / "run_summary.json").write_text("[1, 2]")
    assert validate_run(run) == ["run_summary.json: expected a JSON object, found list"]
    (run / "run_summary.json").write_text(json.dumps({"status": "failed", "schema_version": 2, "error": "x"}))
    (run / "run_metadata.json").write_bytes(b"\x89PNG\r\n")
    (run / "MANIFEST.sha256").write_bytes(b"\xff\xfe binary")
    problems = validate_run(run)
    assert "run_metadata.json: not UTF-8 text" in problems and "MANIFEST.sha256: not UTF-8 text" in problems
    out = subprocess.run([*NAIRRCORE, "report", "validate", str(run)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout


@pytest.mark.slow
def test_a_cpu_run_under_a_gpu_platform_name_is_reported_as_cpu(weather_dir, tmp_path):
    """`--platform delta` on a CPU machine: compare shows the recorded CPU, no
    GPU-hour cost and no speedup, and says why; plan prices the laptop and
    leaves delta out, saying why (with --strict, that is an error)."""
    for platform in ("laptop", "delta"):
        cmd = [*NAIRRCORE, "train", "forecasting", "--quiet", "--outputs", str(tmp_path / "runs"), "--platform",
               platform, *TRAIN, "--param", f"data={weather_dir}", "--param", "epochs=1"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
    from nairrcore.reports.compare import compare

    rows = {r["platform"]: r for r in compare([tmp_path / "runs"], "laptop", out_dir=tmp_path / "report",
                                              plots=False)}
    delta = rows["delta"]
    assert delta["hardware"].startswith("CPU") and "A100" not in delta["hardware"]
    assert delta["cost_per_run"] is None and delta["speedup_total"] is None and not delta["comparable"]
    assert "recorded on the CPU, but platform 'delta' is a A100 GPU platform" in delta["note"]
    text = (tmp_path / "report" / "comparison.md").read_text()
    assert "| delta | 1 | CPU" in text and "recorded on the CPU" in text
    cmd = [*NAIRRCORE, "report", "plan", str(tmp_path / "runs"), "--campaign-runs", "2", "--campaign-epochs", "3"]
    plan = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0 and "| forecasting | laptop |" in plan.stdout and "| forecasting | delta |" not in plan.stdout
    assert "delta runs cannot price that platform" in plan.stderr
    strict = subprocess.run([*cmd, "--strict"], capture_output=True, text=True, timeout=120)
    assert strict.returncode == 2 and "cannot price that platform" in strict.stderr


def test_every_error_class_is_listed_in_the_errors_page():
    page = (REPO / "docs" / "ERRORS.md").read_text()
    for name in ("DataError", "ConfigError", "DistError", "TrainingDiverged", "Preempted", "RunFailed"):
        assert f"`{name}`" in page, name
