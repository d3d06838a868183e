"""Regularizers and tricks that need a model or randomness, kept out of the pure losses: WGAN-GP's gradient
penalty, the R1 penalty, the mode-seeking term, annealed instance noise, and the EMA of the generator's weights."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def gradient_penalty(D: Callable[..., Tensor], real: Tensor, fake: Tensor, y: Tensor | None = None, *,
                     weight: float = 10.0, generator: torch.Generator | None = None,
                     alpha: Tensor | None = None) -> Tensor:
    """weight * E[(‖∇_x̂ D(x̂)‖₂ - 1)²] at x̂ = α x + (1 - α) G(z) (Gulrajani et al. 2017).

    One α ~ U[0, 1) per sample, broadcast over all its pixels: the penalty is meant on straight lines between
    pairs of points, and a per-pixel α would sample points off those lines. create_graph=True makes the penalty
    differentiable with respect to D's weights. `alpha` given by the caller replaces the draw (a distributed
    rank passes its rows of the full batch's draw)."""
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand((n,) + (1,) * (real.dim() - 1), generator=generator, device=real.device,
                           dtype=real.dtype)  # [N, 1, 1, 1] or [N, 1]
    xhat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = D(xhat, y) if y is not None else D(xhat)
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    norms = grad.reshape(n, -1).norm(2, dim=1)  # [N]
    return weight * (norms - 1).pow(2).mean()


def r1_penalty(D: Callable[..., Tensor], real: Tensor, y: Tensor | None = None, *, gamma: float) -> Tensor:
    """(gamma / 2) * E[‖∇_x D(x)‖₂²] on real data (Mescheder et al. 2018, "Which training methods for GANs
    actually converge?"): a zero-centred penalty that damps D's slope where the data is, so that D cannot keep
    pushing G around the equilibrium; with it the non-saturating GAN converges where it would oscillate."""
    x = real.detach().requires_grad_(True)
    out = D(x, y) if y is not None else D(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return 0.5 * gamma * grad.reshape(x.shape[0], -1).pow(2).sum(dim=1).mean()


def mode_seeking_loss(fake: Tensor, z: Tensor, *, weight: float, eps: float = 1e-5) -> Tensor:
    """weight / (mean_i |G(z_2i) - G(z_2i+1)| / mean_i |z_2i - z_2i+1| + eps), the mode-seeking term of Mao et al.
    2019 (MSGAN), added to G's loss.

    Rows (2i, 2i+1) of `fake` are a pair drawn with the same label and different z. A generator that ignores z
    (collapse within a class) makes the ratio ~0 and this term large; one whose images move with z as much as
    z moves keeps it small. The means run over all pairs and pixels at once, as in the paper."""
    n = fake.shape[0]
    if n % 2 or z.shape[0] != n:
        raise ValueError(f"mode_seeking_loss pairs rows (2i, 2i+1): got {n} samples and {z.shape[0]} latents")
    f, zz = fake.reshape(n // 2, 2, -1), z.reshape(n // 2, 2, -1)
    ratio = (f[:, 0] - f[:, 1]).abs().mean() / (zz[:, 0] - zz[:, 1]).abs().mean()
    return weight / (ratio + eps)


def instance_noise_std(step: int, total_steps: int, initial_std: float) -> float:
    """Linear anneal from `initial_std` at step 0 to 0 at `total_steps` (Sønderby et al. 2017; Arjovsky &
    Bottou 2017): noise makes the real and fake distributions overlap early, when D would separate them
    perfectly, and vanishes so the end result is not blurred."""
    if initial_std <= 0 or total_steps <= 0:
        return 0.0
    return max(0.0, initial_std * (1.0 - step / total_steps))


def add_instance_noise(x: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """x + std * N(0, I); x itself (and no random draw) when std is 0."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


@torch.no_grad()
def ema_update(ema_model: nn.Module, model: nn.Module, decay: float) -> None:
    """p_ema <- decay * p_ema + (1 - decay) * p for parameters; buffers (BatchNorm statistics) copied.

    Averaging G's weights over the last ~1/(1 - decay) steps smooths the oscillation of adversarial training
    (Yazıcı et al. 2019; Karras et al. 2018)."""
    ema_params = list(ema_model.parameters())
    params = list(model.parameters())
    if len(ema_params) != len(params):
        raise ValueError("ema_update: the EMA model and the model have different parameter lists")
    if ema_params:
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for b_ema, b in zip(ema_model.buffers(), model.buffers()):
        b_ema.copy_(b)
