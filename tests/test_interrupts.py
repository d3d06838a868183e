"""Interrupts lose nothing: SIGINT/SIGTERM finish the step, checkpoint it and exit 130/143 with a line saying how to
continue; SIGKILL at any moment (checkpoint writes included) leaves a run that resumes to the same bits as one
never interrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import gankit
from gankit import checkpoint as ckpt
from gankit.config import TrainConfig
from gankit.training import TrainingDiverged
from gankit.training.interrupts import TrainingInterrupted

TOY = dict(dataset="ring8", model="mlp", width=32, batch_size=32, ema=0.99, log_every=10, ckpt_every=10,
           sample_every=1000, progress=False, health=False)
ENV = {**os.environ, "OMP_NUM_THREADS": "2"}


def _cfg(out, steps, **kw):
    return TrainConfig(**{**TOY, "steps": steps, "out": str(out), **kw})


def _tensors(run):
    return ckpt.load(ckpt.latest_checkpoint(run))[0]


def _assert_same(ref, got):
    assert set(ref) == set(got)
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def _assert_clean_log(run):
    steps = [json.loads(line)["step"] for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), steps  # no rows repeated from a stretch that was run twice


# ------------------------------------------------------------------------------------------------ in process
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupts") / "ref"
    gankit.train(_cfg(out, 30))
    return _tensors(out)


def _signal_after_step(monkeypatch, step, *signums):
    """Send `signums` to this process at the end of `step` (from a hook, as a terminal or a scheduler would at
    any moment)."""
    from gankit.training import hooks

    real = hooks.Progress.on_step_end

    def sending(self, run):
        real(self, run)
        if run.state.step == step:
            for s in signums:
                os.kill(os.getpid(), s)

    monkeypatch.setattr(hooks.Progress, "on_step_end", sending)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_the_step_and_stops(tmp_path, monkeypatch, reference, signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _signal_after_step(monkeypatch, 7, signum)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as e:
        gankit.train(_cfg(out, 30))
    assert e.value.exit_code == 128 + signum
    path = out / "checkpoints" / ckpt.checkpoint_name(7)
    assert str(e.value) == (f"{signal.Signals(signum).name} received: stopped after step 7, checkpoint {path}; "
                            f"continue with: gankit train --resume {out}")
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [7]
    assert {s: signal.getsignal(s) for s in before} == before  # the handlers are put back
    monkeypatch.undo()
    assert gankit.resume(out).step == 30
    _assert_same(reference, _tensors(out))
    _assert_clean_log(out)


def test_second_sigint_stops_at_once(tmp_path, monkeypatch):
    _signal_after_step(monkeypatch, 7, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        gankit.train(_cfg(tmp_path / "run", 30))
    assert ckpt.list_checkpoints(tmp_path / "run") == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_signal_on_a_non_finite_state_saves_nothing(tmp_path, monkeypatch):
    from gankit.training import loop

    real = loop.ema_update

    def poisoned(ema, net, decay):
        real(ema, net, decay)
        with torch.no_grad():
            next(ema.parameters()).view(-1)[0] = float("nan")

    monkeypatch.setattr(loop, "ema_update", poisoned)
    _signal_after_step(monkeypatch, 7, signal.SIGTERM)
    with pytest.raises(TrainingDiverged, match=r"step 7 \(G_ema/net\.0\.weight\).*no checkpoint was written"):
        gankit.train(_cfg(tmp_path / "run", 30))
    assert ckpt.list_checkpoints(tmp_path / "run") == []


def test_training_off_the_main_thread_leaves_signals_alone(tmp_path):
    """Python lets only the main thread set signal handlers; a run in a worker thread trains as before."""
    result = {}
    worker = threading.Thread(target=lambda: result.update(res=gankit.train(_cfg(tmp_path / "run", 10))))
    worker.start()
    worker.join()
    assert result["res"].step == 10


# ------------------------------------------------------------------------------------------------ the CLI
def _train_cmd(out, *args):
    return [sys.executable, "-m", "gankit", "train", "--dataset", "ring8", "--model", "mlp", "--width", "32",
            "--batch-size", "32", "--sample-every", "1000", "--seed", "5", "--no-progress", "--no-health",
            "--out", str(out), *map(str, args)]


SIGNAL_RUN = ("--steps", 400, "--ckpt-every", 1000, "--log-every", 10)


@pytest.fixture(scope="module")
def signal_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupts") / "ref-cli"
    subprocess.run(_train_cmd(out, *SIGNAL_RUN), check=True, env=ENV, capture_output=True)
    return _tensors(out)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_signal_exits_with_128_plus_signal_and_a_resumable_checkpoint(tmp_path, signal_reference, signum):
    out = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(out, *SIGNAL_RUN), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").stat().st_size):  # training is under way
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signum)
    err = proc.communicate(timeout=120)[1].strip()
    assert proc.returncode == 128 + signum, err
    assert "\n" not in err and "Traceback" not in err, err
    done = ckpt.list_checkpoints(out)
    assert len(done) == 1, f"expected the one checkpoint the stop writes, found {done}"
    assert done[0][0] < 400, "the run ended before the signal; the test proved nothing"
    assert err == (f"gankit: {signal.Signals(signum).name} received: stopped after step {done[0][0]}, checkpoint "
                   f"{done[0][1]}; continue with: gankit train --resume {out}")
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(out), "--no-progress"], env=ENV,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _assert_same(signal_reference, _tensors(out))
    _assert_clean_log(out)


# ------------------------------------------------------------------------------------------------ SIGKILL
KILL_RUN = ("--steps", 150, "--ckpt-every", 1, "--log-every", 5)  # a checkpoint write every step


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupts") / "ref-kill"
    subprocess.run(_train_cmd(out, *KILL_RUN), check=True, env=ENV, capture_output=True)
    return _tensors(out)


def _kill_at_random(proc, out, rng, old_temps):
    """SIGKILL `proc` at a random moment: after a random delay, or as soon as a checkpoint write is seen under
    way (a temporary file not among `old_temps` exists). Returns False when the process ended first."""
    if rng.random() < 0.5:
        deadline = time.time() + rng.uniform(0.0, 2.0)
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.002)
    else:
        deadline = time.time() + 4.0
        while time.time() < deadline and proc.poll() is None and not set(ckpt.stale_temps(out)) - old_temps:
            time.sleep(0.0005)
    if proc.poll() is not None:
        return False
    proc.kill()
    proc.wait()
    return True


def _fault_trial(out, reference, seed, max_kills):
    """Train, SIGKILL at random moments (up to `max_kills` times, resuming after each), then resume to the end:
    every kill leaves a run whose newest checkpoint is whole, and the end result equals the uninterrupted run."""
    rng = random.Random(seed)
    cmd = _train_cmd(out, *KILL_RUN)
    kills = 0
    for attempt in range(max_kills + 1):
        old_temps = set(ckpt.stale_temps(out))
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if attempt == 0:  # the first run: wait for its first checkpoint, else there is nothing to resume
            deadline = time.time() + 120
            while not ckpt.list_checkpoints(out):
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline
                time.sleep(0.002)
        if attempt < max_kills and _kill_at_random(proc, out, rng, old_temps):
            kills += 1
            newest = ckpt.latest_checkpoint(out)
            ckpt.load(newest)  # whole: never a half-written or unchecked file under a checkpoint's name
        else:
            err = proc.communicate(timeout=300)[1]
            assert proc.returncode == 0, err
            assert "skipped" not in err, err
            break
        cmd = [sys.executable, "-m", "gankit", "train", "--resume", str(out), "--no-progress"]
    assert kills, "every process ended before its kill; the trial proved nothing"
    _assert_same(reference, _tensors(out))
    _assert_clean_log(out)
    assert not ckpt.stale_temps(out)
    assert not list((out / "checkpoints").glob("*.corrupt"))


@pytest.mark.parametrize("trial", range(3))
def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path, kill_reference, trial):
    _fault_trial(tmp_path / "run", kill_reference, seed=trial, max_kills=1)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(20))
def test_sigkill_at_random_moments_many_times(tmp_path, kill_reference, trial):
    _fault_trial(tmp_path / "run", kill_reference, seed=1000 + trial, max_kills=3)
