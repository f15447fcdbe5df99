"""A damaged weather file is refused by name: rows that would shift columns,
numbers outside their physical range, text that is not UTF-8, open quotes,
broken archives. Each is a DataError naming the file and line, never a
silent wrong value."""

from __future__ import annotations

import lzma
import shutil
import tarfile
from pathlib import Path

import hypothesis
import pytest
import torch
from hypothesis import strategies as st

from nairrcore import forecasting as fc
from nairrcore._native import core
from nairrcore.errors import DataError

from conftest import CIFAR_DIR, WEATHER_ARCHIVE

CITY = "USW00023044"  # El Paso


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
