"""Checkpoints that cannot lie: digests checked on load, the full state required on resume (an older checkpoint
used when the newest is damaged), no non-finite state saved or sampled from, FIFOs and stray temporary files
handled, exported weights kept in their folder."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import gankit
import gankit.export
from gankit import checkpoint as ckpt
from gankit.cli import main as cli
from gankit.config import TrainConfig
from gankit.errors import CheckpointError
from gankit.training import TrainingDiverged

TOY = dict(dataset="ring8", model="mlp", width=32, batch_size=32, ema=0.99, log_every=10, ckpt_every=10,
           sample_every=1000, progress=False, health=False)


def _cfg(out, steps, **kw):
    return TrainConfig(**{**TOY, "steps": steps, "out": str(out), **kw})


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A toy run at step 20 with checkpoints at 10 and 20."""
    out = tmp_path_factory.mktemp("integrity") / "base"
    gankit.train(_cfg(out, 20))
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run trained to step 30 in one go."""
    out = tmp_path_factory.mktemp("integrity") / "ref"
    gankit.train(_cfg(out, 30))
    return ckpt.load(ckpt.latest_checkpoint(out))[0]


@pytest.fixture
def run(base_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(base_run, copy)
    return copy


def _newest(run):
    return ckpt.latest_checkpoint(run)


def _one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert str(needle) in err, err
    return err


@contextmanager
def _no_hang(seconds=60):
    """Fail instead of blocking forever (opening a FIFO for reading waits for a writer)."""
    def fail(*_):
        raise AssertionError(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------------------------ ways to damage
def _header(data: bytes) -> tuple[int, dict]:
    n = struct.unpack("<Q", data[:8])[0]
    return n, json.loads(data[8:8 + n])


def flip_tensor_byte(path, key="G/net.0.weight"):
    """One bit of a weight's mantissa: the value stays finite and the file parses."""
    data = bytearray(path.read_bytes())
    n, header = _header(bytes(data))
    data[8 + n + header[key]["data_offsets"][0] + 1] ^= 0x10
    path.write_bytes(bytes(data))


def edit_step_in_metadata(path):
    """The step recorded in the JSON, one digit changed (same length, still valid JSON)."""
    data = path.read_bytes()
    old = b'\\"step\\": 20'
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, b'\\"step\\": 29'))


def resave(path, drop=(), poison=None):
    """Rewrite with valid digests, as a writer would have: without the tensors under `drop`, or with one value of
    tensor `poison` set to inf."""
    tensors, meta = ckpt.load(path)
    tensors = {k: v.clone() for k, v in tensors.items() if not k.startswith(tuple(drop))}
    if poison is not None:
        tensors[poison].view(-1)[0] = float("inf")
    ckpt.save(path, tensors, meta)


def strip_digests(path):
    """The file as gankit wrote it before it recorded digests."""
    with safe_open(str(path), framework="pt") as fh:
        raw = fh.metadata()
    save_file(load_file(str(path)), str(path), metadata={"gankit": raw["gankit"]})


def truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def make_fifo(path):
    path.unlink()
    os.mkfifo(path)


# ------------------------------------------------------------------------------------------------ digests
def test_flipped_tensor_bytes_are_refused_naming_file_and_group(run, capsys):
    path = _newest(run)
    flip_tensor_byte(path)
    with pytest.raises(CheckpointError, match=r"corrupt checkpoint: the tensors under 'G' do not match") as e:
        ckpt.load(path)
    assert str(path) in str(e.value)
    code = cli(["sample", str(run), "--n", "4", "--out", str(run / "s.png")])
    _one_line_error(capsys, code, path, "'G'")


def test_edited_metadata_is_refused(run):
    path = _newest(run)
    edit_step_in_metadata(path)
    with pytest.raises(CheckpointError, match="metadata does not match"):
        ckpt.load(path)


def test_checkpoint_without_digests_still_loads_and_resumes(run):
    for _, path in ckpt.list_checkpoints(run):
        strip_digests(path)
    tensors, meta = ckpt.load(_newest(run))
    assert meta["step"] == 20
    assert gankit.load(run).step == 20
    assert gankit.resume(run, steps=30).step == 30


def test_digests_cover_every_group_and_the_metadata(run):
    with safe_open(str(_newest(run)), framework="pt") as fh:
        record = json.loads(fh.metadata()[ckpt.INTEGRITY_KEY])
    assert set(record["tensors"]) == {"G", "D", "G_ema", "opt_G", "opt_D", "rng"}
    assert len(record["meta"]) == 64


# ------------------------------------------------------------------------------------------------ full state
@pytest.mark.parametrize("drop", ["opt_D/", "opt_G/state/0/exp_avg_sq", "G_ema/", "rng/"])
def test_resume_refuses_a_checkpoint_missing_part_of_the_state(run, drop):
    for _, path in ckpt.list_checkpoints(run):
        resave(path, drop=[drop])
    with pytest.raises(CheckpointError, match=r"incomplete checkpoint \(no ") as e:
        gankit.resume(run, steps=30)
    assert "step_0000020.safetensors" in str(e.value) and "older checkpoint(s) are damaged too" in str(e.value)


def test_old_checkpoint_without_any_optimizer_state_is_refused(run):
    """A checkpoint from before the optimizer entries were recorded: no state at all past step 0 is missing."""
    tensors, meta = ckpt.load(_newest(run))
    for name in ("opt_G", "opt_D"):
        del meta[name]["entries"]
    kept = {k: v for k, v in tensors.items() if not k.startswith("opt_D/")}
    assert ckpt.missing_optimizer_state("opt_D", kept, meta["opt_D"], step=20) == ["opt_D/state"]
    assert ckpt.missing_optimizer_state("opt_D", tensors, meta["opt_D"], step=20) == []
    assert ckpt.missing_optimizer_state("opt_D", kept, meta["opt_D"], step=0) == []


def test_unpacking_an_optimizer_refuses_missing_entries(run):
    tensors, meta = ckpt.load(_newest(run))
    del tensors["opt_G/state/2/exp_avg"]
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(CheckpointError, match=r"incomplete optimizer state 'opt_G' \(no opt_G/state/2/exp_avg\)"):
        ckpt.unpack_optimizer("opt_G", opt, tensors, meta["opt_G"], path=Path("x"))


# ------------------------------------------------------------------------------------------------ fall back
DAMAGE = {
    "truncated": (truncate, "truncated or corrupt checkpoint"),
    "flipped": (flip_tensor_byte, "do not match the sha256"),
    "fifo": (make_fifo, "is a FIFO"),
    "non-finite": (lambda p: resave(p, poison="D/features.0.weight"), "non-finite values (D/features.0.weight)"),
    "no-optimizer": (lambda p: resave(p, drop=["opt_D/"]), "incomplete checkpoint (no opt_D/state/"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_resume_falls_back_past_a_damaged_newest_checkpoint(run, reference, capsys, kind):
    damage, reason = DAMAGE[kind]
    newest = _newest(run)
    damage(newest)
    with _no_hang():
        res = gankit.resume(run, steps=30)
    err = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(err) == 1 and err[0].startswith(f"gankit: skipped {newest} ("), err
    assert err[0].endswith("; moved it to step_0000020.safetensors.corrupt and resuming from step_0000010.safetensors")
    assert reason in err[0]
    assert res.step == 30
    got = ckpt.load(res.checkpoint)[0]
    assert set(got) == set(reference) and all(torch.equal(got[k], reference[k]) for k in got)
    assert (run / "checkpoints" / "step_0000020.safetensors.corrupt").exists()
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [20, 30]


def test_every_checkpoint_damaged_is_one_line_error(run, capsys):
    for _, path in ckpt.list_checkpoints(run):
        truncate(path)
    code = cli(["train", "--resume", str(run), "--steps", "30", "--no-progress"])
    _one_line_error(capsys, code, _newest(run), "truncated", "the 1 older checkpoint(s) are damaged too")
    assert not list((run / "checkpoints").glob("*.corrupt"))  # nothing set aside when nothing is usable


def test_fifo_in_place_of_the_newest_checkpoint_is_refused_without_blocking(run, capsys):
    fifo = run / "checkpoints" / ckpt.checkpoint_name(30)
    os.mkfifo(fifo)
    with _no_hang():
        with pytest.raises(CheckpointError, match="is a FIFO, not a checkpoint file") as e:
            gankit.load(run)
        assert str(fifo) in str(e.value)
        code = cli(["sample", str(fifo), "--n", "4", "--out", str(run / "s.png")])
    _one_line_error(capsys, code, fifo, "FIFO")


# ------------------------------------------------------------------------------------------------ non-finite state
def test_lr_1e12_never_saves_non_finite_state(tmp_path):
    """With a huge learning rate the losses of a step can be finite while the update leaves inf in BatchNorm's
    running statistics; that state must not become the 'last good checkpoint'."""
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--dataset", "mnist5k", "--model", "dcgan",
                        "--width", "8", "--d-width", "8", "--batch-size", "16", "--steps", "6", "--ckpt-every", "1",
                        "--log-every", "1", "--keep-ckpts", "10", "--sample-every", "1000", "--lr", "1e12",
                        "--no-progress", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 3, r.stderr  # training diverged: its own exit status
    err = r.stderr.strip()
    assert "\n" not in err and err.startswith("gankit: error: non-finite values at step"), err
    for _, path in ckpt.list_checkpoints(out):
        tensors = ckpt.load(path)[0]
        assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()), path


def _poison_ema_at(monkeypatch, step):
    """After the EMA update of `step` (once), one G_ema weight becomes inf: the step's losses stay finite (G_ema
    only samples), so only a check of the state itself can see it."""
    from gankit.training import loop

    calls = {"n": 0}
    real = loop.ema_update

    def poisoned(ema, net, decay):
        real(ema, net, decay)
        calls["n"] += 1
        if calls["n"] == step:
            with torch.no_grad():
                next(ema.parameters()).view(-1)[0] = float("inf")

    monkeypatch.setattr(loop, "ema_update", poisoned)


def test_non_finite_state_at_a_checkpoint_stops_naming_the_last_good_one(tmp_path, monkeypatch):
    _poison_ema_at(monkeypatch, 20)
    with pytest.raises(TrainingDiverged, match=r"non-finite values at step 20 \(G_ema/net\.0\.weight\).*"
                                               r"last good checkpoint is .*step_0000010"):
        gankit.train(_cfg(tmp_path / "run", 40))
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [10]


def test_auto_remedy_rolls_back_a_non_finite_state(tmp_path, monkeypatch):
    _poison_ema_at(monkeypatch, 20)
    res = gankit.train(_cfg(tmp_path / "run", 40, health=True, auto_remedy=True))
    assert res.step == 40
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    events = [e for r in rows for e in r.get("events", []) if e.get("finding") == "non_finite"]
    assert events and "rolled back from step 20 to the checkpoint at step 10" in events[0]["action"]
    tensors = ckpt.load(res.checkpoint)[0]
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_load_sample_export_evaluate_refuse_non_finite_weights(run, tmp_path, capsys):
    path = _newest(run)
    resave(path, poison="G_ema/net.2.weight")
    with pytest.raises(CheckpointError, match=r"weights are not finite \(G_ema/net\.2\.weight") as e:
        gankit.load(run)
    assert str(path) in str(e.value)
    assert gankit.load(run, ema=False).step == 20  # the raw G is finite
    for argv in (["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")],
                 ["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")],
                 ["evaluate", str(run), "--n", "100"]):
        _one_line_error(capsys, cli(argv), path, "not finite")


# ------------------------------------------------------------------------------------------------ files
def test_stale_checkpoint_temp_files_are_removed_on_resume(run):
    d = run / "checkpoints"
    stale = [d / ".step_0000030.safetensors.k3j_x9a1.tmp", d / ".step_0000030.safetensors.0a1b2c3d.tmp.safetensors"]
    kept = [d / ".other.abc.tmp", d / "notes.txt", d / ".step_0000030.safetensors"]
    for p in stale + kept:
        p.write_bytes(b"\0" * 1000)
    assert ckpt.stale_temps(run) == sorted(stale)
    gankit.resume(run, steps=30)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


@pytest.fixture
def exported(run, tmp_path):
    out = tmp_path / "export" / "g.safetensors"
    gankit.export.export_generator(run, format="safetensors", out=out)
    return out


@pytest.mark.parametrize("weights", ["../g.safetensors", "/etc/passwd", "sub/g.safetensors", "..", "", 7])
def test_exported_config_may_not_point_outside_its_folder(exported, weights):
    spec_path = exported.with_suffix(".json")
    spec = json.loads(spec_path.read_text())
    spec["weights"] = weights
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match="'weights' must name a file in the same folder") as e:
        gankit.load(spec_path)
    assert str(spec_path) in str(e.value)


def test_exported_weights_are_checked_against_their_digest(exported):
    assert gankit.load(exported).step == 20
    flip_tensor_byte(exported, key="net.0.weight")
    with pytest.raises(CheckpointError, match="corrupt weights: they do not match the sha256 recorded in g.json"):
        gankit.load(exported)
