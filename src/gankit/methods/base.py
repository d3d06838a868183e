"""What a GAN method is: its networks, its optimizer groups, and the loss each phase of a training step computes.

A method never calls backward, steps an optimizer or draws from a random source of its own: the loop
(`gankit.training.loop`) owns the optimizers, zero_grad / backward / clip / step, the EMA copy, the seeded random
stream and DDP wrapping. A method says *what* to compute, phase by phase, as stylegan2-ada's
`loss.accumulate_gradients(phase, ...)` does; the loop never asks which method it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..data import Dataset
from ..distributed import BatchShard
from ..models.prior import sample_prior
from ..stats import Stats


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of a training step.

    `optimizer` names the optimizer group it steps; `repeats` how often per step (k discriminator updates per
    generator update); `takes_batch` whether each repeat gets a fresh real batch; `frozen` the networks whose
    weights get no gradient in this phase (their parameters' requires_grad is off, so backward skips them)."""

    name: str
    optimizer: str
    repeats: int = 1
    takes_batch: bool = True
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptimizerGroup:
    """An optimizer over the parameters of `networks`, at learning rate `lr` (before the schedule)."""

    networks: tuple[str, ...]
    lr: float


@dataclass
class Batch:
    """This rank's rows of one real batch."""

    x: Tensor  # [b, *sample_shape] float, images in [-1, 1]
    y: Tensor | None  # [b] int64 labels, or None for unlabelled data


class Draws:
    """Every random draw of training, from the one seeded stream the loop checkpoints.

    Under torchrun each rank draws for the whole global batch and keeps its own rows (`rows`), so N ranks make the
    same draws as one process and train like it."""

    def __init__(self, gen: torch.Generator, shard: BatchShard, device: torch.device, prior: str) -> None:
        self.gen, self.shard, self.device, self.prior = gen, shard, device, prior

    @property
    def batch(self) -> int:
        """The global batch size."""
        return self.shard.global_batch

    def rows(self, t: Tensor) -> Tensor:
        """This rank's rows of a full-batch tensor.  # [B, ...] -> [B / world_size, ...]"""
        return self.shard.rows(t)

    def z(self, z_dim: int) -> Tensor:
        """Latents for this rank's rows of the batch.  # [b, z_dim]"""
        return self.rows(sample_prior(self.prior, self.batch, z_dim, self.gen, self.device))

    def randint(self, high: int, n: int) -> Tensor:
        """n integers in [0, high), not sliced to this rank (callers arrange rows, then call `rows`).  # [n]"""
        return torch.randint(0, high, (n,), generator=self.gen, device=self.device)

    def rand_like_rows(self, x: Tensor, per_sample_shape: tuple[int, ...]) -> Tensor:
        """U[0, 1) of shape [B, *per_sample_shape], this rank's rows, in x's dtype and device."""
        return self.rows(torch.rand((self.batch, *per_sample_shape), generator=self.gen, device=x.device,
                                    dtype=x.dtype))

    def randn_like_rows(self, x: Tensor) -> Tensor:
        """N(0, I) shaped like the full batch of x's rows, this rank's rows."""
        return self.rows(torch.randn((self.batch, *x.shape[1:]), generator=self.gen, device=x.device,
                                     dtype=x.dtype))


@dataclass
class StepContext:
    """What a phase's loss may use. `nets` are the plain modules (penalties, probes); `train[name]` is the forward
    to use when the backward updates that network's own weights (DDP-wrapped, compiled with --compile);
    `frozen[name]` the forward for a network that gets no weight gradient here (under no_grad, or frozen)."""

    step: int
    repeat: int  # which of the phase's repeats this is (0-based)
    nets: dict[str, nn.Module]
    train: dict[str, Callable[..., Tensor]]
    frozen: dict[str, Callable[..., Tensor]]
    draws: Draws
    stats: Stats


@dataclass
class Parts:
    """A user's own pieces, given to `gankit.train` from Python (None: build from the config)."""

    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    loss: Any = None  # an object with d_loss(real_logits, fake_logits) and g_loss(fake_logits)


def log_d_scores(stats: Stats, loss: Any, loss_d: Tensor, real_logits: Tensor, fake_logits: Tensor) -> None:
    """What every adversarial D update logs: its loss, D's mean raw scores on real and fake, and for
    probabilistic objectives the mean D(x) = sigmoid(score) the health monitor and doctor read."""
    stats.add("Loss/D", loss_d)
    stats.add("Score/real", real_logits.mean())
    stats.add("Score/fake", fake_logits.mean())
    if loss.probabilistic:
        stats.add("D/real", torch.sigmoid(real_logits).mean())
        stats.add("D/fake", torch.sigmoid(fake_logits).mean())


def loss_without_penalty(cfg: TrainConfig, method: str) -> Any:
    """The config's objective for a method whose D takes more than one image (pairs, patches, two domains), where
    WGAN-GP's penalty on interpolated single images is not defined: any other loss, or a one-line refusal."""
    from ..errors import ConfigError
    from ..losses import get_loss

    loss = get_loss(cfg.loss, label_smoothing=cfg.label_smoothing, lsgan_abc=tuple(cfg.lsgan_abc))
    if loss.uses_gradient_penalty:
        raise ConfigError(f"--method {method} takes a loss without a gradient penalty (minimax, nonsaturating, lsgan "
                          f"or hinge), got {cfg.loss!r}")
    return loss


class Method:
    """Base class of GAN methods. Subclasses set `name`, and register with `gankit.methods.register_method`."""

    name: ClassVar[str] = ""
    #: the network averaged into an EMA copy named "<name>_ema" when the config keeps one
    ema_of: ClassVar[str | None] = "G"
    #: the network (or its EMA copy) that samples: snapshots, in-training scores, `gankit.load`
    sampler: ClassVar[str] = "G"
    #: what `gankit.load(run)` offers besides sampling, verb -> network name: {"encode": "E"} makes
    #: `Generator.encode` run the checkpoint's E; each such network is rebuilt by `inference_net`
    inference: ClassVar[dict[str, str]] = {}
    #: defaults for the recipe fields (gankit.recipes) this method trains best with; explicit settings win
    recipe: ClassVar[dict[str, Any]] = {}
    #: whether `gankit evaluate` scores this method's runs with `scores` (translators: held-out inputs against their
    #: targets) instead of as a generator of noise (FID of samples, CAS, Parzen, Inception)
    own_scores: ClassVar[bool] = False
    #: whether the method's networks are the ones `--model` names (gan, infogan, ...); a method with networks of
    #: its own (U-Nets, growing or style-based nets, recurrent nets) sets False, and runs are named after it
    uses_model: ClassVar[bool] = True

    @classmethod
    def label(cls, model: str, loss: str) -> str:
        """How messages name a run of this method: "dcgan/nonsaturating", "infogan dcgan/nonsaturating",
        "stylegan/nonsaturating"."""
        if not cls.uses_model:
            return f"{cls.name}/{loss}"
        return f"{model}/{loss}" if cls.name == "gan" else f"{cls.name} {model}/{loss}"

    def __init__(self, cfg: TrainConfig, data: Dataset, parts: Parts | None = None) -> None:
        self.cfg = cfg
        self.data = data
        self.parts = parts or Parts()
        #: per-step values the loop logs when they are numbers and hooks may adjust (e.g. --auto-remedy)
        self.knobs: dict[str, Any] = {}

    # ------------------------------------------------------------------ declarations
    @classmethod
    def recipe_values(cls, *, toy: bool, model: str) -> dict[str, Any]:
        """The recipe defaults for a run on toy vectors or images with `model`: `recipe` unless a method needs
        them to depend on the data family or model."""
        return dict(cls.recipe)

    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A fresh network `name` (a value of `inference`) of the run's architecture, from its config alone:
        `gankit.load` then loads the checkpoint's weights into it."""
        raise NotImplementedError

    def build(self) -> dict[str, nn.Module]:
        """The networks by name, freshly initialised (the loop seeds the global RNG first)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, OptimizerGroup]:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def check(self, shard: BatchShard) -> None:
        """Refuse settings this method cannot train with (before anything is written)."""

    # ------------------------------------------------------------------ per step
    def begin_step(self, step: int) -> None:
        """Set this step's scheduled knobs (hooks may adjust them afterwards)."""

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        """The scalar that `phase.optimizer` minimises in this repeat of `phase`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        """The scores of a loaded run `G` (gankit.load) when `own_scores` is set, with their protocol."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sampling
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
        """An untrained network of the architecture `sampler` has in a run of this method, for `gankit.load` to
        load weights into; None: the model the config names (gankit.models.build_networks)."""
        return None

    def fixed_inputs(self, nets: dict[str, nn.Module],
                     device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        """The inputs behind every samples/step_*.png (drawn apart from the training stream), and the grid's row
        length (0: square)."""
        raise NotImplementedError

    def snapshot(self, sampler: nn.Module, nets: dict[str, nn.Module], fixed: tuple[Any, ...]) -> Tensor:
        """The images of one samples/step_*.png, under no_grad with `sampler` (the sampling network or its EMA
        copy) in eval mode: the sampler on the fixed inputs, unless a method draws more (pix2pix: input, output and
        target side by side; CycleGAN: inputs, translations and round trips).  # -> [N, *data_shape]"""
        return sampler(*fixed)
