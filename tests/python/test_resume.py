"""Resuming from a checkpoint only when it is sound and was written under
the same settings: other settings, a damaged training state under a good
checksum and an unreadable checksum are each refused or skipped by name."""

from __future__ import annotations

import io
import pickletools
import subprocess
import sys
import zipfile

import pytest
import torch

from nairrcore.training import CheckpointManager

NAIRRCORE = [sys.executable, "-m", "nairrcore"]

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
