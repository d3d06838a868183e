"""Training on torchrun: 2 CPU processes (gloo, 127.0.0.1) with batch B/2 each must train exactly like one process
with batch B, checkpoints must move between 1 and 2 ranks, and a killed rank must stop the job."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import free_port
from torch import nn

import gankit
from gankit import checkpoint as ckpt
from gankit.config import TrainConfig
from gankit.distributed import BatchShard, CPUSyncBatchNorm, DistContext, env_ranks, on_rank0, rank_seed
from gankit.errors import ConfigError

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not available")

# A config that touches every random draw and every penalty: labels, instance noise, GP alphas, R1, k = 2.
RICH = dict(dataset="ring8", model="mlp", width=32, batch_size=64, conditional=True, loss="wgan-gp", r1=0.1,
            instance_noise=0.1, d_steps=2, ema=0.9, seed=3, log_every=3, ckpt_every=3, sample_every=3,
            progress=False)
# BatchNorm in both nets, normalised over the global batch; R1 differentiates twice through the synced statistics.
BN = dict(dataset="mnist5k", model="dcgan", width=8, d_width=8, z_dim=16, batch_size=16, r1=1.0, sync_bn=True,
          log_every=2, ckpt_every=2, sample_every=2, n_samples=16, progress=False)


def _flags(cfg: dict) -> list[str]:
    out = []
    for k, v in cfg.items():
        flag = "--" + k.replace("_", "-")
        if k == "progress":
            out += [] if v else ["--no-progress"]
        elif isinstance(v, bool):
            out += [flag] if v else []
        else:
            out += [flag, str(v)]
    return out


def _env() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_DIST_TIMEOUT": "60"}
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # stay on the loopback device whatever the host name says
    return env


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "gankit", "train", *args]


def run_torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run(torchrun(*args), capture_output=True, text=True, env=_env(), timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _state(run: Path) -> dict[str, torch.Tensor]:
    """Weights and BatchNorm statistics of G, D and the EMA G, and the optimizers' moments."""
    tensors, _ = ckpt.load(ckpt.resolve(run))
    return {k: v for k, v in tensors.items() if not k.startswith("rng/") and v.is_floating_point()}


def assert_same_training(a: Path, b: Path, atol: float = 1e-4) -> None:
    sa, sb = _state(a), _state(b)
    assert sorted(sa) == sorted(sb)
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=atol, msg=lambda m, k=k: f"{k}: {m}")
    ra = [json.loads(x) for x in (a / "metrics.jsonl").read_text().splitlines()]
    rb = [json.loads(x) for x in (b / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb):  # rank 0 logs the global batch's means, as one process does
        for key in ("Loss/D", "Loss/G", "Score/real", "Score/fake"):
            assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-5), (x["step"], key)


# ---------------------------------------------------------------------------------------------------- unit
def test_batch_shard_rows_partition_the_global_batch():
    full = torch.arange(12).view(6, 2)
    parts = [BatchShard(6, r, 3).rows(full) for r in range(3)]
    assert [p.shape[0] for p in parts] == [2, 2, 2]
    assert torch.equal(torch.cat(parts), full)
    assert BatchShard(6).rows(full) is full
    with pytest.raises(ConfigError, match="--batch-size 10 .* 4 ranks"):
        BatchShard(10, 0, 4)


def test_env_ranks_and_rank_seeds():
    assert env_ranks({}) == (0, 1, 0)
    assert env_ranks({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (1, 4, 1)
    with pytest.raises(ConfigError, match="RANK"):
        env_ranks({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="inconsistent"):
        env_ranks({"RANK": "2", "WORLD_SIZE": "2"})
    seeds = [rank_seed(5, r) for r in range(4)]
    assert seeds[0] == 5 and len(set(seeds)) == 4


def test_cpu_sync_batchnorm_keeps_parameters_and_is_batchnorm_in_one_process():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 4 * 4, 4),
                        nn.BatchNorm1d(4))
    ref = __import__("copy").deepcopy(net)
    params = [id(p) for p in net.parameters()]
    net = CPUSyncBatchNorm.convert(net)
    assert isinstance(net[1], CPUSyncBatchNorm) and isinstance(net[4], CPUSyncBatchNorm)
    assert [id(p) for p in net.parameters()] == params  # optimizers built before the swap stay valid
    assert list(net.state_dict()) == list(ref.state_dict())  # checkpoints load into plain BatchNorm
    x = torch.randn(5, 1, 6, 6)
    assert torch.equal(net(x), ref(x))
    assert torch.equal(net[1].running_var, ref[1].running_var)


def test_on_rank0_in_one_process_just_calls():
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    assert on_rank0(ctx, lambda: 7, share=True) == 7
    with pytest.raises(ConfigError, match="boom"):
        on_rank0(ctx, lambda: (_ for _ in ()).throw(ConfigError("boom")))


# ---------------------------------------------------------------------------------------------------- torchrun
def test_two_ranks_train_like_one_process_and_resume_on_one(tmp_path):
    r = run_torchrun(*_flags({**RICH, "steps": 6, "out": str(tmp_path / "ddp")}))
    assert r.stdout.count("on 2 ranks") == 1  # rank 0 alone reports (and writes)
    one = gankit.train(TrainConfig(**RICH, steps=6, out=str(tmp_path / "one")))
    assert one.step == 6
    assert_same_training(tmp_path / "ddp", tmp_path / "one")
    assert sorted(p.name for p in (tmp_path / "ddp" / "samples").iterdir()) == ["step_0000003.png",
                                                                              "step_0000006.png"]
    # the 2-rank checkpoint holds plain weights: one process continues it exactly as it continues its own
    gankit.resume(tmp_path / "ddp", steps=9)
    gankit.resume(tmp_path / "one", steps=9)
    assert_same_training(tmp_path / "ddp", tmp_path / "one")


def test_sync_bn_two_ranks_continue_a_one_process_run_like_one_process(tmp_path):
    gankit.train(TrainConfig(**BN, steps=2, out=str(tmp_path / "a")))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    r = run_torchrun("--resume", str(tmp_path / "a"), "--steps", "4", "--no-progress")
    assert "on 2 ranks" in r.stdout
    gankit.resume(tmp_path / "b", steps=4, progress=False)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "a")] == [2, 4]
    assert_same_training(tmp_path / "a", tmp_path / "b")


@pytest.mark.slow
def test_without_sync_bn_batchnorm_models_differ(tmp_path):
    """The check above has teeth: per-rank BatchNorm statistics train a different model."""
    cfg = {**BN, "sync_bn": False}
    gankit.train(TrainConfig(**cfg, steps=2, out=str(tmp_path / "a")))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    run_torchrun("--resume", str(tmp_path / "a"), "--steps", "4", "--no-progress")
    gankit.resume(tmp_path / "b", steps=4, progress=False)
    with pytest.raises(AssertionError):
        assert_same_training(tmp_path / "a", tmp_path / "b")


def _rank_pids(parent: int, rank: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            environ = (d / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in environ:
            pids.append(int(d.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_killed_rank_stops_the_job_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    cfg = {**RICH, "steps": 100000, "ckpt_every": 20, "sample_every": 100000, "log_every": 20, "out": str(out)}
    proc = subprocess.Popen(torchrun(*_flags(cfg)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env())
    try:
        deadline = time.monotonic() + 240
        while len(ckpt.list_checkpoints(out)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the 2-rank run did not get going"
            time.sleep(0.2)
        victims = _rank_pids(proc.pid, 1)
        assert len(victims) == 1
        os.kill(victims[0], signal.SIGKILL)
        rc = proc.wait(timeout=120)  # bounded: the other rank and torchrun stop instead of waiting on rank 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stdout.read()
    assert rc != 0, log[-2000:]
    last = ckpt.list_checkpoints(out)[-1][0]
    assert last >= 40 and last % 20 == 0
    res = gankit.resume(out, steps=last + 20, progress=False)  # one process picks the 2-rank run up
    assert res.step == last + 20
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(20, last + 21, 20))  # the rows past the checkpoint were dropped, none repeat
