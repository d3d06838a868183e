"""Small torch helpers used across gankit: a module's mode, its gradient norm, the thread count, the global RNG.

Each restores what it changes, so callers inside the training loop leave training exactly as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn

__all__ = ["eval_mode", "grad_norm", "seeded", "single_thread"]


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Run a block with `module` in eval mode (no BatchNorm statistics updated, no dropout), then put it back in
    the mode it was in, also when the block raises."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def grad_norm(params: nn.Module | Iterable[torch.Tensor] | torch.Tensor,
              dtype: torch.dtype | None = None) -> torch.Tensor | None:
    """Total L2 norm of the gradients of a module's parameters (or of the given tensors), what clip_grad_norm_
    reports, as a tensor: no host sync. None when none has a gradient. `dtype` (e.g. torch.float64) computes it at
    that precision, so that tiny gradients do not underflow."""
    if isinstance(params, nn.Module):
        params = params.parameters()
    elif isinstance(params, torch.Tensor):
        params = [params]
    grads = [p.grad.detach() for p in params if p.grad is not None]
    if not grads:
        return None
    if dtype is not None:
        grads = [g.to(dtype) for g in grads]
    return torch.stack([g.norm() for g in grads]).norm()


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run a block with one intra-op thread: for tiny nets, where on a busy machine a second thread only waits.
    Restores the caller's setting afterwards. Also a decorator: `@single_thread()`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (network initialisation) under torch.manual_seed(seed) without touching the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
