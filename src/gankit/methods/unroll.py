"""Unrolled GAN (Metz et al. 2017): G is trained against the discriminator D would become after K more updates.

The surrogate objective is f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)), where theta_D^0 is D's
weights and theta_D^{k+1} = theta_D^k - eta * step(dL_D/dtheta_D^k). G's gradient is taken through the K look-ahead
updates (create_graph=True), so it includes how D would react to what G does next: a G that piles onto one mode
is told that D would then reject that mode.

The look-ahead runs on a copy of D's parameters through torch.func.functional_call; D's weights, its BatchNorm
statistics (cloned buffers) and its optimizer are untouched, and after G's update D is exactly as before.

The look-ahead step: Metz et al. unroll with the optimizer D trains with (Adam), whose state lives in the training
loop, not here. gankit uses an Adam-like step without that state: each tensor moves by eta along its gradient
divided by the gradient's root mean square over the tensor, the divisor held constant (detached), as Adam's second
moment nearly is within one step. So every look-ahead step moves D about as far as one Adam step at eta, and it is
differentiable in G's output (a per-element normalisation, Adam's first step, would be sign(g), whose derivative
is zero). eta is D's learning rate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

#: keeps the divisor away from zero for a tensor whose gradient vanishes
EPS = 1e-8

DForward = Callable[..., Tensor]  # D(x [N, ...], y [N] | None) -> logits [N']


def lookahead_step(p: Tensor, g: Tensor, lr: float) -> Tensor:
    """One look-ahead descent step of a tensor: p - lr * g / rms(g), rms held constant. Pure."""
    scale = g.detach().pow(2).mean().sqrt() + EPS
    return p - lr * g / scale


def unrolled_forward(D: nn.Module, d_objective: Callable[[DForward], Tensor], steps: int, lr: float) -> DForward:
    """D's forward at its look-ahead weights after `steps` descent steps on `d_objective` (D's loss, given a D
    forward), differentiable all the way back to whatever the objective depends on (G's samples).

    steps = 0 returns D at its own weights (through the copy)."""
    params = {n: p.detach().requires_grad_(True) for n, p in D.named_parameters()}
    buffers = {n: b.clone() for n, b in D.named_buffers()}  # BatchNorm statistics: the look-ahead's own

    def at(ps: dict[str, Tensor]) -> DForward:
        def forward(x: Tensor, y: Tensor | None = None) -> Tensor:
            return functional_call(D, {**ps, **buffers}, (x,) if y is None else (x, y))
        return forward

    for _ in range(steps):
        names = list(params)
        grads = torch.autograd.grad(d_objective(at(params)), [params[n] for n in names], create_graph=True,
                                    allow_unused=True)
        params = {n: params[n] if g is None else lookahead_step(params[n], g, lr) for n, g in zip(names, grads)}
    return at(params)
