"""The readers' format contract (docs/ERRORS.md, "What the readers accept"),
checked differentially: generated city files, valid and broken, read by the
C++ readers and by a reference written from the contract with Python's own
csv module (utf-8-sig, strict), strict number and date syntax and the same
ranges, give the same values or are both refused. CIFAR-10 batch files hold
exactly 10,000 records of 3,073 bytes."""

from __future__ import annotations

import csv
import datetime
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nairrcore._native import core
from nairrcore.data.cifar10 import TEST_FILES, TRAIN_FILES, load
from nairrcore.errors import DataError

from conftest import CIFAR_DIR

NUMBER = re.compile(r" *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
RANGES = {"tmax": (-100, 150), "tmin": (-100, 150), "prcp": (0, 60), "Lat": (-90, 90), "Lon": (-180, 180)}
EPOCH = datetime.date(1970, 1, 1)
REFUSED = "refused"


# ---- the reference, from the contract ---------------------------------------------------------------------

def _lines(data: bytes) -> list[list[str] | None]:
    """Each line's fields (None for an empty line): UTF-8 with an optional
    byte-order mark, lines ending in \\n or \\r\\n, one record per line."""
    lines = data.decode("utf-8-sig").split("\n")
    if lines[-1] == "":
        lines.pop()  # the last line's newline
    out = []
    for line in lines:
        line = line.removesuffix("\r")
        if "\r" in line:
            raise ValueError("a carriage return inside a line")
        out.append(next(csv.reader([line], strict=True)) if line else None)
    return out


def _columns(header: list[str] | None, wanted: tuple[str, ...]) -> list[int]:
    if not header:
        raise ValueError("empty file, expected a header")
    if any(header.count(w) != 1 for w in wanted):
        raise ValueError("a wanted column is missing or repeated")
    return [header.index(w) for w in wanted]


def _number(text: str, column: str, missing_ok: bool = True) -> float:
    text = text.strip(" ")
    if text in ("", "NA"):
        if missing_ok:
            return math.nan
        raise ValueError("missing")
    if not NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    lo, hi = RANGES[column]
    if not lo <= value <= hi:  # inf too
        raise ValueError("out of range")
    return value


def _day(text: str) -> int:
    if not DATE.fullmatch(text):
        raise ValueError(f"not a date: {text!r}")
    return (datetime.date(int(text[:4]), int(text[5:7]), int(text[8:])) - EPOCH).days


def reference_series(data: bytes) -> list[tuple]:
    header, *rows = _lines(data) or [None]
    col = _columns(header, ("Date", "tmax", "tmin", "prcp"))
    out = []
    for fields in filter(None, rows):
        if len(fields) != len(header):
            raise ValueError("field count")
        out.append((_day(fields[col[0]]), *(_number(fields[c], n) for c, n in zip(col[1:], RANGES))))
    if not out:
        raise ValueError("no data rows")
    out.sort(key=lambda r: r[0])
    if any(a[0] == b[0] for a, b in zip(out, out[1:])):
        raise ValueError("duplicated date")
    return out


def reference_city_info(data: bytes) -> list[tuple]:
    header, *rows = _lines(data) or [None]
    col = _columns(header, ("ID", "Name", "Lat", "Lon"))
    cities: dict[str, tuple] = {}
    for fields in filter(None, rows):
        if len(fields) != len(header):
            raise ValueError("field count")
        city = (fields[col[0]], fields[col[1]], _number(fields[col[2]], "Lat", False),
                _number(fields[col[3]], "Lon", False))
        if not city[0]:
            raise ValueError("empty ID")
        first = cities.setdefault(city[0], city)
        if first[2:] != city[2:]:
            raise ValueError("conflicting coordinates")
    if not cities:
        raise ValueError("no city rows")
    return [cities[k] for k in sorted(cities)]


# ---- both readers, side by side ----------------------------------------------------------------------------

def _same(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def nairrcore_series(data: bytes):
    try:
        s = core.parse_city_series(data, "city.csv")
    except DataError:
        return REFUSED
    return [tuple(_same(v) for v in row) for row in
            zip(s["day"].tolist(), s["tmax"].tolist(), s["tmin"].tolist(), s["prcp"].tolist())]


def nairrcore_city_info(data: bytes):
    try:
        return [(c.id, c.name, c.lat, c.lon) for c in core.parse_city_info(data, "city_info.csv")]
    except DataError:
        return REFUSED


def python_reference(read, data: bytes):
    try:
        return [tuple(_same(v) for v in row) for row in read(data)]
    except (ValueError, csv.Error):  # UnicodeDecodeError is a ValueError
        return REFUSED


# ---- generated files ---------------------------------------------------------------------------------------

def _decimal(lo: float, hi: float):
    value = st.floats(lo, hi, allow_nan=False)
    return st.one_of(value.map(repr), value.map(lambda x: f"{x:.3e}"), value.map(lambda x: f" {x:+.2f} "),
                     st.integers(int(lo), int(hi)).map(str), st.sampled_from(["NA", "", f"{lo:g}", f"{hi:g}", "-0"]))


BAD_NUMBERS = st.sampled_from(["1e400", "inf", "nan", "NaN", "+-5", "--5", "0x10", "1_0", "\u0661\u0662", "\uff11",
                               "1e", "e5", ".", "-", "1.5x", "\t7", "na", "60.0000001", "-100.5", "150.01", "1e-400",
                               "4e-320", "5.", ".5", "-.5e+1"])
BAD_DATES = st.sampled_from(["-001-01-01", "0000-01-01", "2019-02-29", "2020-02-29", "2019-13-01", " 2019-01-01",
                             "2019-1-01", "2019-+1-01", "\uff12019-01-01", "2019/01/01", ""])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
VALID = {"Date": st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)).map(lambda d: d.isoformat()),
         "tmax": _decimal(-100, 150), "tmin": _decimal(-100, 150), "prcp": _decimal(0, 60),
         "ID": st.one_of(st.sampled_from(["USW1", "USW2"]), st.text("USWC0123456789", min_size=1, max_size=8)),
         "Name": TEXT,
         "Lat": _decimal(-90, 90), "Lon": _decimal(-180, 180)}
BROKEN = {"Date": BAD_DATES, "tmax": BAD_NUMBERS, "tmin": BAD_NUMBERS, "prcp": BAD_NUMBERS,
          "ID": st.just(""), "Name": TEXT, "Lat": BAD_NUMBERS, "Lon": BAD_NUMBERS}


def _field(value: str, draw, damaged: bool) -> str:
    if damaged and draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(['"' + value, '"' + value + '"x', value + '"', '""' + value]))
    if draw(st.booleans()) or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_file(draw, header: list[str]):
    """A city file: about half are valid (any order of columns, an extra one,
    quoting, NA, blank lines, either newline, a BOM); the rest carry damage
    of one of the kinds the contract names."""
    damaged = draw(st.booleans())
    heads = [st.just(header), st.permutations(header), st.just(header + ["extra"])]
    if damaged:
        heads += [st.just(header + [header[-1]]), st.just(header[:-1])]
    head = draw(st.one_of(heads))
    rows = [",".join(_field(v, draw, damaged) for v in head)]
    for _ in range(draw(st.integers(0, 6))):
        fields = []
        for name in head:
            broken = damaged and name in BROKEN and draw(st.integers(0, 6)) == 0
            fields.append(draw((BROKEN if broken else VALID).get(name, TEXT)))
        if damaged and draw(st.integers(0, 9)) == 0:
            fields = fields[:-1] if draw(st.booleans()) else fields + ["1"]
        rows.append(",".join(_field(v, draw, damaged) for v in fields) if draw(st.integers(0, 9)) else "")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(rows) + draw(st.sampled_from(["", newline, "\r"]))
    data = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8")
    if damaged and draw(st.booleans()):  # a damaged byte anywhere
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xff", b"\r", b'"', b",", b"\xed\xa0\x80", b"\xe0\x80\x80", b"\xf4\x90\x80\x80",
                                     b"\xc0\xaf", b"\x00", b"\n", b"\xef\xbb\xbf"]))
        data = data[:at] + junk + data[at:]
    return data


EXAMPLES = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(csv_file(["", "Date", "tmax", "tmin", "prcp"]))
def test_city_series_reads_as_the_reference_reads_or_both_refuse(data):
    assert nairrcore_series(data) == python_reference(reference_series, data), data


@EXAMPLES
@given(csv_file(["ID", "Name", "Lat", "Lon"]))
def test_city_info_reads_as_the_reference_reads_or_both_refuse(data):
    assert nairrcore_city_info(data) == python_reference(reference_city_info, data), data


@pytest.mark.parametrize("case, data, accepted", [
    ("spreadsheet export: BOM, CRLF", b'\xef\xbb\xbf"",Date,tmax,tmin,prcp\r\n"1",1950-01-01,40,30,0\r\n', True),
    ("quoted numbers and NA", b'Date,tmax,tmin,prcp\n1950-01-01,"40.5",NA,""\n', True),
    ("BOM twice", b'\xef\xbb\xbf\xef\xbb\xbfDate,tmax,tmin,prcp\n1950-01-01,40,30,0\n', False),
    ("a sign and another", b'Date,tmax,tmin,prcp\n1950-01-01,+-40,30,0\n', False),
    ("year before 1", b'Date,tmax,tmin,prcp\n-001-01-01,40,30,0\n', False),
    ("text after a closing quote", b'Date,tmax,tmin,prcp\n1950-01-01,"40"5,30,0\n', False),
    ("an encoded surrogate", b'Date,tmax,tmin,prcp,note\n1950-01-01,40,30,0,\xed\xa0\x80\n', False),
    ("a bare carriage return", b'Date,tmax,tmin,prcp\r1950-01-01,40,30,0\n', False),
    ("a column twice", b'Date,tmax,tmin,prcp,tmax\n1950-01-01,40,30,0,41\n', False),
])
def test_listed_cases_of_the_contract(case, data, accepted):
    ours, reference = nairrcore_series(data), python_reference(reference_series, data)
    assert ours == reference, case
    assert (ours != REFUSED) == accepted, case


@settings(max_examples=60, deadline=None)
@given(official=st.integers(1, 40), records=st.integers(1, 90))
def test_a_cifar_file_must_hold_exactly_the_official_record_count(official, records):
    raw = bytes(range(10)) * 3  # labels 0..9 at every record's first byte below
    blob = b"".join(bytes([k % 10]) + raw * 102 + raw[:12] for k in range(records))
    assert len(blob) == records * 3073
    if records == official:
        images, labels = core.parse_cifar([("x.bin", blob)], "nchw", 1, official)
        assert labels.tolist() == [k % 10 for k in range(records)]
    else:
        with pytest.raises(DataError, match=rf"^x\.bin: {records} records; .*exactly {official} "):
            core.parse_cifar([("x.bin", blob)], "nchw", 1, official)


@pytest.mark.slow
def test_two_batch_files_joined_into_one_xz_are_refused_naming_the_file(tmp_path):
    for name in TRAIN_FILES + TEST_FILES:
        (tmp_path / f"{name}.xz").symlink_to(CIFAR_DIR / f"{name}.xz")
    joined = tmp_path / "test_batch.bin.xz"
    joined.unlink()
    # two xz streams one after the other: lzma reads them as one file of 20,000 records
    joined.write_bytes((CIFAR_DIR / "test_batch.bin.xz").read_bytes() + (CIFAR_DIR / "data_batch_5.bin.xz").read_bytes())
    with pytest.raises(DataError, match=r"test_batch\.bin\.xz: 20000 records; an official CIFAR-10 batch file "
                                        r"holds exactly 10000 \(30730000 bytes\)"):
        load(tmp_path)
