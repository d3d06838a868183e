"""Adversarial training (Madry et al. 2018): fine-tune a classifier on PGD examples so its curve shifts right.

Each batch is replaced by its PGD adversarial versions (random start, `steps` steps, in the attack's own norm
and at budget `eps`), generated against the current weights with the network in eval mode, and the weights take
one Adam step on the cross-entropy of those. Starting from the shipped classifier rather than from scratch is
what keeps this to minutes on a CPU.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import progress
from .attacks import as_01, pgd


def adversarial_finetune(net: nn.Module, x: Tensor, y: Tensor, *, norm: str, eps: float, steps: int = 7,
                         epochs: int = 2, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                         log: Callable[[str], Any] | None = None) -> nn.Module:
    """A hardened copy of `net` (which takes [-1, 1] images); x: training images [N, C, H, W] in [0, 1].
    Adam at `lr` with cosine decay to 0 over `epochs` passes. Deterministic given `seed` on CPU."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"adversarial training data: {len(x)} images and {len(y)} labels")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(net)
    for p in model.parameters():
        p.requires_grad_(True)
    model01 = as_01(model)
    per_epoch = math.ceil(len(x) / batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
    t0 = time.perf_counter()
    bar = progress.bar(epochs * per_epoch, "adversarial training", unit="batch")
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total, correct, seen = 0.0, 0, 0
        for i in range(per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            model.eval()  # the attack sees the deployed network (BatchNorm running stats, no dropout)
            xa = pgd(model01, xb, yb, eps, norm=norm, steps=steps, step_size=2.5 * eps / steps,
                     random_start=True, generator=gen)
            model.train()
            logits = model01(xa)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            total += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
        if log is not None:
            log(f"adversarial training epoch {epoch + 1}/{epochs}: loss {total / seen:.3f}, accuracy on its PGD "
                f"examples {100 * correct / seen:.1f}% ({time.perf_counter() - t0:.0f} s)")
    bar.close()
    return model.eval()
