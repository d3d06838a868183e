"""The attacks as pure functions: FGSM, PGD in L-infinity and in L2, and the random control.

Pixel scale: every function here takes images in [0, 1], the scale in which the literature quotes budgets
(MNIST: L-inf eps 0.1-0.3, L2 eps 0.5-3), and returns images in [0, 1]. `model` maps such images to logits;
`as_01(net)` adapts gankit's classifiers, which take [-1, 1]. A perturbation delta = x_adv - x therefore never
leaves the budget (||delta|| <= eps) nor the valid range (0 <= x_adv <= 1).

Untargeted attacks ascend the cross-entropy of the true label; targeted ones (`target` given) descend the
cross-entropy of the target. All are batched: one call attacks a whole batch [N, C, H, W].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Model01 = Callable[[Tensor], Tensor]  # images [N, C, H, W] in [0, 1] -> logits [N, K]
NORMS = ("linf", "l2")
_TINY = 1e-12


def as_01(net: nn.Module) -> Model01:
    """Wrap a classifier that takes [-1, 1] images so it takes [0, 1] images (2x - 1 maps one onto the other)."""
    return lambda x: net(x * 2 - 1)


def _check(x: Tensor, eps: float) -> None:
    if x.dim() != 4:
        raise ValueError(f"attacks take images [N, C, H, W], got shape {tuple(x.shape)}")
    if not eps >= 0:  # also rejects NaN
        raise ValueError(f"eps must be >= 0, got {eps}")


def _targets(target: int | Tensor | None, n: int) -> Tensor | None:
    if target is None or isinstance(target, Tensor):
        return target
    return torch.full((n,), int(target), dtype=torch.long)


def fooled(logits: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
    """Success per image: the prediction differs from y (untargeted) or equals the target.  # [N] bool"""
    pred = logits.argmax(1)
    return pred != y if target is None else pred == target


def _ascent_grad(model: Model01, x: Tensor, y: Tensor, target: Tensor | None) -> tuple[Tensor, Tensor]:
    """(gradient of the attacker's objective w.r.t. x, logits at x). Sum, not mean, so a sample's gradient does
    not shrink with the batch size."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = (F.cross_entropy(logits, y, reduction="sum") if target is None
            else -F.cross_entropy(logits, target, reduction="sum"))
    (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


def _norms(t: Tensor) -> Tensor:
    return t.flatten(1).norm(dim=1)  # [N]


def _per_image(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1, 1)


def project(x: Tensor, x_adv: Tensor, eps: float, norm: str) -> Tensor:
    """The nearest point to x_adv, approximately, in the eps-ball around x that is also a valid image: first onto
    the ball, then clamp to [0, 1]. Clamping can only move each pixel of delta towards 0 (x itself is in
    [0, 1]), so the result stays inside the ball."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    elif norm == "l2":
        delta = delta * _per_image((eps / _norms(delta).clamp_min(_TINY)).clamp(max=1.0))
    else:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return (x + delta).clamp(0, 1)


def fgsm(model: Model01, x: Tensor, y: Tensor, eps: float, *, target: int | Tensor | None = None) -> Tensor:
    """Fast Gradient Sign Method (Goodfellow et al. 2015): one step of size eps along the sign of the gradient,
    an L-infinity attack.  # [N, C, H, W] in [0, 1]"""
    _check(x, eps)
    grad, _ = _ascent_grad(model, x, y, _targets(target, len(x)))
    return (x + eps * grad.sign()).clamp(0, 1).detach()


def pgd(model: Model01, x: Tensor, y: Tensor, eps: float, *, norm: str, steps: int = 40,
        step_size: float | None = None, target: int | Tensor | None = None, random_start: bool = False,
        generator: torch.Generator | None = None) -> Tensor:
    """Projected gradient descent (Madry et al. 2018): `steps` steps of `step_size` (default 2.5 * eps / steps)
    along the sign of the gradient (L-inf) or the gradient divided by its L2 norm (L2), each followed by
    `project`. random_start begins at a random point of the ball (used in adversarial training).

    Returns the final iterate, except for an image whose final iterate does not fool the model while an earlier
    one did: it gets the last iterate that did. Every returned point is inside the ball.  # [N, C, H, W]"""
    _check(x, eps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    step = 2.5 * eps / steps if step_size is None else step_size
    tgt = _targets(target, len(x))
    x = x.detach()
    x_adv = x.clone()
    if random_start and eps > 0:
        if norm == "linf":
            noise = (torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1) * eps
        else:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            radius = eps * torch.rand(len(x), generator=generator, dtype=x.dtype)
            noise = noise * _per_image(radius / _norms(noise).clamp_min(_TINY))
        x_adv = project(x, x + noise, eps, norm)
    best, found = x_adv.clone(), torch.zeros(len(x), dtype=torch.bool)
    for _ in range(steps):
        grad, logits = _ascent_grad(model, x_adv, y, tgt)
        ok = fooled(logits, y, tgt)  # did the point before this step succeed?
        best[ok], found = x_adv[ok], found | ok
        if norm == "linf":
            direction = grad.sign()
        else:
            direction = grad / _per_image(_norms(grad).clamp_min(_TINY))
        x_adv = project(x, x_adv + step * direction, eps, norm).detach()
    with torch.no_grad():
        ok = fooled(model(x_adv), y, tgt)
    keep_final = ok | ~found
    best[keep_final] = x_adv[keep_final]
    return best


def pgd_linf(model: Model01, x: Tensor, y: Tensor, eps: float, **kw) -> Tensor:
    """PGD in the L-infinity ball of radius eps (see `pgd`)."""
    return pgd(model, x, y, eps, norm="linf", **kw)


def pgd_l2(model: Model01, x: Tensor, y: Tensor, eps: float, **kw) -> Tensor:
    """PGD in the L2 ball of radius eps (see `pgd`)."""
    return pgd(model, x, y, eps, norm="l2", **kw)


def random_control(x: Tensor, l2: Tensor, *, generator: torch.Generator | None = None,
                   iters: int = 60) -> Tensor:
    """Random noise with a given L2 norm per image, inside the valid range: the control that shows it is the
    attack's direction, not its size, that fools a network.

    A Gaussian direction u per image (uniform on the sphere); the image is clip(x + s*u, 0, 1), with the scale s
    found by bisection so that ||clip(x + s*u) - x||_2 equals l2[i]. Clipping alone would shrink the noise (on
    MNIST's black background half of it points below 0), so s grows until the *clipped* noise has the norm.
    The norm matches to float precision unless l2[i] exceeds the largest reachable one (every pixel pushed to 0
    or 1), where the result is that extreme.  # [N, C, H, W] in [0, 1]"""
    if x.dim() != 4 or l2.shape != (len(x),):
        raise ValueError(f"random_control takes images [N, C, H, W] and norms [N], got {tuple(x.shape)} "
                         f"and {tuple(l2.shape)}")
    x = x.detach()
    u = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    u = u / _per_image(_norms(u).clamp_min(_TINY))
    r = l2.to(x.dtype)

    def size(s: Tensor) -> Tensor:  # L2 norm of the clipped noise at scale s; non-decreasing in s
        return _norms((x + _per_image(s) * u).clamp(0, 1) - x)

    lo, hi = torch.zeros_like(r), r.clone()  # clipping only shrinks, so size(r) <= r: r is a lower bound
    for _ in range(40):  # grow hi until the clipped noise is big enough (or every pixel is at 0 or 1)
        short = size(hi) < r
        if not short.any():
            break
        lo = torch.where(short, hi, lo)
        hi = torch.where(short, hi * 2, hi)
    for _ in range(iters):
        mid = (lo + hi) / 2
        big = size(mid) >= r
        hi, lo = torch.where(big, mid, hi), torch.where(big, lo, mid)
    return (x + _per_image(hi) * u).clamp(0, 1)


def perturbation_stats(x: Tensor, x_adv: Tensor) -> dict[str, Tensor]:
    """Per image: L2 and L-inf norm of x_adv - x, and PSNR in dB with peak 1 (images in [0, 1]); PSNR is inf
    where nothing changed.  # each [N]"""
    delta = (x_adv - x).flatten(1).double()
    mse = delta.pow(2).mean(1)
    psnr = torch.where(mse > 0, -10 * torch.log10(mse.clamp_min(1e-300)), torch.full_like(mse, float("inf")))
    return {"l2": delta.norm(dim=1), "linf": delta.abs().amax(1), "psnr_db": psnr}
