"""Multi-process training on PyTorch's own engine: `torchrun --nproc_per_node N -m gankit train ...`.

torchrun starts N copies of the command and tells each its place through environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). This module reads them, joins the process group (gloo on
CPU, nccl on GPU), and holds the few pieces the training loop needs to run as one of N ranks:

- `--batch-size` is the *global* batch. Every rank draws the same full-batch random tensors from the shared,
  identically seeded training stream and keeps its own rows (`BatchShard.rows`), and every rank takes its rows
  of the same per-epoch data permutation. So N ranks of B/N see exactly the samples and noise one process of B
  sees, DDP's gradient average equals the gradient of the full-batch mean, and the run is the same run.
- the global torch RNG (anything rank-local) is seeded per rank from `--seed` (`rank_seed`).
- rank 0 alone writes; `on_rank0` runs a step there and makes its errors (and, if asked, its result) reach
  every rank, so all ranks fail together instead of some waiting for a peer that has given up.
- `unwrap` strips DistributedDataParallel so checkpoints hold plain weights that load on any number of ranks.
- collectives time out after `timeout_s()` seconds (GANKIT_DIST_TIMEOUT, default 300), so a lost peer stops the
  job instead of hanging it; torchrun also stops the other workers as soon as one exits with an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from .errors import ConfigError, GankitError

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 300.0


class PeerFailure(GankitError):
    """Another rank died, or a collective timed out: this rank stops too (torchrun then ends the job)."""

    exit_code = 4


# ---------------------------------------------------------------------------------------------------- context
@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool = False  # this module initialised the process group, so it also destroys it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_ranks(env: dict[str, str] | None = None) -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) outside torchrun."""
    env = dict(os.environ) if env is None else env
    values = []
    for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)):
        text = env.get(name)
        try:
            values.append(default if text is None or text == "" else int(text))
        except ValueError:
            raise ConfigError(f"environment variable {name} must be an integer, got {text!r}") from None
    rank, world, local = values
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ConfigError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}")
    return rank, world, local


def timeout_s() -> float:
    text = os.environ.get("GANKIT_DIST_TIMEOUT", "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"GANKIT_DIST_TIMEOUT must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise ConfigError(f"GANKIT_DIST_TIMEOUT must be > 0, got {text!r}")
    return value


def setup(device_name: str) -> DistContext:
    """Join the process group when run under torchrun with WORLD_SIZE > 1; otherwise a one-rank context.

    `device_name` is the config's device: auto picks cuda:LOCAL_RANK with nccl when CUDA is present, else the
    CPU with gloo. A process group the caller initialised already is used as it is (and left to the caller)."""
    rank, world, local = env_ranks()
    if world == 1 and not (dist.is_available() and dist.is_initialized()):
        return DistContext(0, 1, 0, _single_device(device_name))
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    if device_name not in ("auto", "cpu", "cuda"):  # one device per rank: cuda picks cuda:LOCAL_RANK
        raise ConfigError(f"under torchrun, config key 'device' must be auto, cpu or cuda (each rank takes "
                          f"cuda:LOCAL_RANK), got {device_name!r}")
    use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
    if device_name == "cuda" and not use_cuda:
        raise ConfigError("config key 'device' is 'cuda' but no CUDA device is available")
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(seconds=timeout_s()))
        owns = True
    return DistContext(dist.get_rank(), dist.get_world_size(), local, device, owns)


def _single_device(name: str) -> torch.device:
    """The device a one-process run trains on: auto (CUDA if present, else the CPU), cpu, cuda, cuda:N or mps;
    a device this machine lacks is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"config key 'device' is {name!r} but no CUDA device is available on this machine")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"config key 'device' is {name!r} but this machine has {torch.cuda.device_count()} "
                              f"CUDA device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("config key 'device' is 'mps' but Apple's Metal (MPS) backend is not available here")
    return torch.device(name)


def teardown(ctx: DistContext) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """A per-rank seed for rank-local randomness (the global torch RNG); rank 0 keeps `seed` itself."""
    return seed if rank == 0 else (seed * 1_000_003 + 7919 * rank) % (2**63 - 1)


# ---------------------------------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class BatchShard:
    """This rank's rows of a global batch: rows [rank * b, (rank + 1) * b) with b = global_batch / world_size."""

    global_batch: int
    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.global_batch % self.world_size:
            raise ConfigError(f"--batch-size {self.global_batch} is the global batch and must divide evenly over "
                              f"{self.world_size} ranks (try {self.global_batch // self.world_size * self.world_size}"
                              f" or {(self.global_batch // self.world_size + 1) * self.world_size})")

    @property
    def local_batch(self) -> int:
        return self.global_batch // self.world_size

    def rows(self, t: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a full-batch tensor.  # [B, ...] -> [B / world_size, ...]"""
        if self.world_size == 1:
            return t
        if t.shape[0] != self.global_batch:
            raise ValueError(f"expected a full batch of {self.global_batch} rows, got {t.shape[0]}")
        b = self.local_batch
        return t[self.rank * b:(self.rank + 1) * b]


# ---------------------------------------------------------------------------------------------------- modules
def wrap(module: nn.Module, ctx: DistContext) -> nn.Module:
    """DistributedDataParallel around `module` on more than one rank (averages gradients in backward).

    Buffers are not broadcast on every forward: with --sync-bn they are equal on all ranks anyway, and without it
    each rank's BatchNorm statistics follow its own shard (rank 0's are the ones checkpointed)."""
    if not ctx.enabled:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def convert_sync_batchnorm(module: nn.Module, ctx: DistContext) -> nn.Module:
    """BatchNorm layers that normalise over the global batch of all ranks; their state-dict keys are unchanged,
    so checkpoints load into plain BatchNorm. PyTorch's SyncBatchNorm serves GPUs; it refuses CPU tensors, so
    on CPU (gloo) `CPUSyncBatchNorm` does the same with two differentiable all-reduces."""
    if ctx.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return CPUSyncBatchNorm.convert(module)


class _SumAcrossRanks(torch.autograd.Function):
    """all_reduce(SUM) with a gradient: every rank's output is the sum, so each input's gradient is the sum of
    the output gradients of all ranks (DDP's average over ranks then gives the gradient of the global loss)."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _SumAcrossRanks.apply(grad)  # differentiable again: R1 and the gradient penalty go through it


def sum_across_ranks(t: torch.Tensor) -> torch.Tensor:
    return _SumAcrossRanks.apply(t)


class CPUSyncBatchNorm(_BatchNorm):
    """BatchNorm over the union of all ranks' batches, as one process with the global batch would compute it:
    mean, then the centred second moment (two passes, like BatchNorm itself), biased variance for normalising
    and unbiased for the running estimate. Outside training or a process group it is plain BatchNorm."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input [N, C, ...], got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]  # all but the channel axis
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_n = x.numel() // x.shape[1]
        totals = sum_across_ranks(torch.cat([x.sum(dims), x.new_tensor([float(local_n)])]))  # [C + 1]
        n = totals[-1].detach()
        mean = totals[:-1] / n  # [C]
        xc = x - mean.view(shape)
        var = sum_across_ranks((xc * xc).sum(dims)) / n  # [C], biased
        y = xc * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * (n / (n - 1)), m)
        return y

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Swap every BatchNorm{1,2,3}d for this class, handing over the very parameter and buffer objects (as
        nn.SyncBatchNorm.convert_sync_batchnorm does), so optimizers built on the old ones stay valid."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            new = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            if module.affine:
                new.weight, new.bias = module.weight, module.bias
            if module.track_running_stats:
                new.running_mean, new.running_var = module.running_mean, module.running_var
                new.num_batches_tracked = module.num_batches_tracked
            new.train(module.training)
            return new
        for name, child in module.named_children():
            setattr(module, name, cls.convert(child))
        return module


# ---------------------------------------------------------------------------------------------------- rank 0
def on_rank0(ctx: DistContext, fn: Callable[[], T], *, share: bool = False) -> T | None:
    """Run `fn` on rank 0 only. An error there is raised on every rank (a GankitError keeps its type and
    message); with `share`, rank 0's result is broadcast and returned everywhere, else other ranks get None."""
    if not ctx.enabled:
        return fn()
    payload: list[Any] = [None]
    error: BaseException | None = None
    result: Any = None
    if ctx.is_main:
        try:
            result = fn()
            payload = [("ok", result if share else None)]
        except GankitError as e:
            error, payload = e, [("gankit", type(e), str(e))]
        except BaseException as e:
            error, payload = e, [("crash", None, f"{type(e).__name__}: {e}")]
    _collective(lambda: dist.broadcast_object_list(payload, src=0), "sharing rank 0's result")
    kind = payload[0][0]
    if error is not None:
        raise error
    if kind == "gankit":
        raise payload[0][1](payload[0][2])
    if kind == "crash":
        raise PeerFailure(f"rank 0 failed: {payload[0][2]}")
    return result if ctx.is_main else payload[0][1]


def mean_across_ranks(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Each key's mean over ranks (every rank must pass the same keys): the logged losses are then the global
    batch's, as one process would log them."""
    if not ctx.enabled or not values:
        return values
    names = sorted(values)
    t = torch.tensor([values[n] for n in names], dtype=torch.float64,
                     device=ctx.device if ctx.device.type == "cuda" else "cpu")
    _collective(lambda: dist.all_reduce(t), "averaging the logged statistics")
    means = dict(zip(names, t.tolist()))
    return {n: means[n] / ctx.world_size for n in values}  # in the caller's key order


def _collective(fn: Callable[[], Any], what: str) -> None:
    try:
        fn()
    except (RuntimeError, dist.DistError) as e:
        raise PeerFailure(f"lost contact with another rank while {what} ({_first_line(e)})") from None


def is_peer_failure(e: BaseException) -> bool:
    """Errors a collective raises when another rank died or a collective timed out."""
    if isinstance(e, (dist.DistError, PeerFailure)):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(w in text for w in (
        "gloo", "nccl", "connection closed", "connection reset", "timed out", "timeout", "broken pipe"))


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else type(e).__name__


def broadcast_buffers(module: nn.Module, ctx: DistContext) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank: without --sync-bn each rank's drift with
    its shard, and code that runs G in eval mode on every rank (the health probe) must see the same network."""
    if not ctx.enabled:
        return
    for b in module.buffers():
        _collective(lambda b=b: dist.broadcast(b, src=0), "sharing BatchNorm statistics")
