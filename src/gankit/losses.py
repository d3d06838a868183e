"""GAN objectives as pure functions in one registry.

Discriminators return raw logits/scores [N]. Each objective gives `d_loss(real_logits, fake_logits)` (what D
minimises) and `g_loss(fake_logits)` (what G minimises). They hold no state, own no optimizer and never call
backward: the training loop does. Cross-entropy forms are written with softplus, which stays finite where
log(sigmoid(x)) underflows: log D(x) = -softplus(-x) and log(1 - D(x)) = -softplus(x).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ConfigError

LOSS_NAMES: tuple[str, ...] = ("minimax", "nonsaturating", "lsgan", "wgan-gp", "hinge")
# LSGAN codings (Mao et al. 2017): a = fake label, b = real label, c = the value G wants D to give its fakes.
LSGAN_PRESETS: dict[str, tuple[float, float, float]] = {
    "pearson": (-1.0, 1.0, 0.0),  # b - c = 1, b - a = 2: minimising it minimises the Pearson chi^2 divergence
    "binary": (0.0, 1.0, 1.0),  # the intuitive 0/1 coding: G wants its fakes to score as real
}


@dataclass(frozen=True)
class Loss:
    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    uses_gradient_penalty: bool = False  # the loop adds regularizers.gradient_penalty to D's loss
    probabilistic: bool = True  # sigmoid(logit) is the probability D(x) (cross-entropy objectives)


def d_prob(logits: Tensor) -> Tensor:
    """D(x) as a probability, for the cross-entropy objectives."""
    return torch.sigmoid(logits)


# --------------------------------------------------------------------------------- cross-entropy (2014 GAN)
def bce_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """-[t log D(x) + (1 - t) log(1 - D(x))] on reals with target t, -log(1 - D(G(z))) on fakes.

    t = 1 is Goodfellow et al.'s discriminator; t < 1 is one-sided label smoothing (Salimans et al. 2016),
    which stops D from pushing its real logits to infinity. Fakes keep target 0: smoothing them too would let
    D reward samples away from the data."""
    real = real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits: Tensor) -> Tensor:
    """log(1 - D(G(z))): the saturating form. Its gradient vanishes when D confidently rejects the fakes,
    which is exactly the situation early in training (Goodfellow et al. 2014, Section 3)."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point, strong gradients when D rejects the fakes."""
    return F.softplus(-fake_logits).mean()


# --------------------------------------------------------------------------------- least squares
def lsgan_d_loss(real_logits: Tensor, fake_logits: Tensor, a: float, b: float) -> Tensor:
    """½ E[(D(x) - b)²] + ½ E[(D(G(z)) - a)²] (Mao et al. 2017)."""
    return 0.5 * (real_logits - b).pow(2).mean() + 0.5 * (fake_logits - a).pow(2).mean()


def lsgan_g_loss(fake_logits: Tensor, c: float) -> Tensor:
    """½ E[(D(G(z)) - c)²]: fakes far from c are pulled hard, even on the real side of the boundary, where
    the sigmoid cross-entropy gradient has already vanished."""
    return 0.5 * (fake_logits - c).pow(2).mean()


# --------------------------------------------------------------------------------- Wasserstein and hinge
def wgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: the negated Kantorovich-Rubinstein estimate (Arjovsky et al. 2017); the
    gradient penalty of Gulrajani et al. 2017 is added by the loop."""
    return fake_logits.mean() - real_logits.mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def critic_g_loss(fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]: the generator loss of WGAN and of the hinge GAN."""
    return -fake_logits.mean()


# --------------------------------------------------------------------------------- registry
def get_loss(name: str, *, label_smoothing: float = 0.0,
             lsgan_abc: tuple[float, float, float] = LSGAN_PRESETS["binary"]) -> Loss:
    """The objective `name`, with one-sided label smoothing (cross-entropy and LSGAN) and LSGAN's coding.

    For LSGAN, smoothing moves the real code b toward the fake code a by that fraction: b' = b - s (b - a)."""
    if name not in LOSS_NAMES:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ConfigError(f"label smoothing must be in [0, 0.5), got {label_smoothing!r}")
    if label_smoothing and name in ("wgan-gp", "hinge"):
        raise ConfigError(f"label smoothing has no meaning for the {name!r} loss (it has no target labels)")
    t = 1.0 - label_smoothing
    if name == "minimax":
        return Loss(name, lambda r, f: bce_d_loss(r, f, t), minimax_g_loss)
    if name == "nonsaturating":
        return Loss(name, lambda r, f: bce_d_loss(r, f, t), nonsaturating_g_loss)
    if name == "lsgan":
        try:
            a, b, c = (float(v) for v in lsgan_abc)
        except (TypeError, ValueError):
            raise ConfigError(f"lsgan_abc needs three numbers a,b,c, got {lsgan_abc!r}") from None
        if a == b:
            raise ConfigError(f"lsgan_abc: the fake code a and the real code b must differ, got a=b={a}")
        b_s = b - label_smoothing * (b - a)
        return Loss(name, lambda r, f: lsgan_d_loss(r, f, a, b_s), lambda f: lsgan_g_loss(f, c),
                    probabilistic=False)
    if name == "wgan-gp":
        return Loss(name, wgan_d_loss, critic_g_loss, uses_gradient_penalty=True, probabilistic=False)
    return Loss(name, hinge_d_loss, critic_g_loss, probabilistic=False)


def as_loss(obj: object) -> Loss:
    """A user's objective as a Loss: a Loss itself, an object with `d_loss(real_logits, fake_logits)` and
    `g_loss(fake_logits)` (and optionally `uses_gradient_penalty`, `probabilistic`), or a pair (d_loss, g_loss).
    Each must return a scalar tensor; the loop checks that on its first step."""
    if isinstance(obj, Loss):
        return obj
    if isinstance(obj, (tuple, list)):
        if len(obj) != 2 or not all(callable(f) for f in obj):
            raise ConfigError(f"loss as a pair must be two functions (d_loss, g_loss), got {obj!r}")
        d, g = obj
        return _tried(Loss("custom", _scalar(d, "d_loss"), _scalar(g, "g_loss"), probabilistic=False))
    d, g = getattr(obj, "d_loss", None), getattr(obj, "g_loss", None)
    if not (callable(d) and callable(g)):
        raise ConfigError(f"loss must be a pair (d_loss, g_loss) or an object with d_loss and g_loss methods, got "
                          f"{type(obj).__name__}")
    return _tried(Loss("custom", _scalar(d, "d_loss"), _scalar(g, "g_loss"),
                       uses_gradient_penalty=bool(getattr(obj, "uses_gradient_penalty", False)),
                       probabilistic=bool(getattr(obj, "probabilistic", False))))


def _tried(loss: Loss) -> Loss:
    """`loss`, once called on dummy logits, so a broken objective fails before a run directory is written."""
    logits = torch.linspace(-1.0, 1.0, 4)
    try:
        with torch.no_grad():
            loss.d_loss(logits, logits.flip(0))
            loss.g_loss(logits)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"the custom loss failed on logits of shape [4]: {type(e).__name__}: {e}") from None
    return loss


def _scalar(fn: Callable[..., Tensor], what: str) -> Callable[..., Tensor]:
    """`fn`, refusing a result that is not a scalar tensor (a per-sample loss would backpropagate wrongly)."""
    def checked(*args: Tensor) -> Tensor:
        out = fn(*args)
        if not torch.is_tensor(out) or out.dim() != 0:
            shape = list(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ConfigError(f"the custom loss's {what} must return a scalar tensor, got {shape}")
        return out
    return checked
