"""Semi-supervised GAN (Salimans et al. 2016, "Improved techniques for training GANs", section 5).

D is a K-way classifier whose logits l_1..l_K also decide real vs fake: the fake class K+1 has its logit fixed
at 0, so D(x) = Z(x) / (Z(x) + 1) with Z = sum_k exp l_k. D minimises the cross-entropy on a few labelled
examples (`--labels-per-class N`, drawn with the run's seed) plus the unsupervised GAN terms on all the training
images, unlabelled, and on G's samples; G minimises feature matching on D's last hidden layer. After training,
D is the classifier: `gankit.load(run).classify(x)`, and `gankit evaluate` reports its test error.

D follows the paper's MNIST network: weight-normalised dense layers of 4w, 2w, w, w, w units (w = d_width;
the paper's w is 250) with Gaussian noise on the input (std 0.3) and after every hidden layer (std 0.5). The
noise draws from torch's global generator, whose state every checkpoint holds, so a resume stays bit-identical.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import TrainConfig
from ..data.transforms import as_float
from ..distributed import BatchShard
from ..errors import ConfigError
from ..models import build_networks
from ..models.custom import as_generator
from .base import Batch, Method, OptimizerGroup, Phase, StepContext

INPUT_NOISE = 0.3  # std of the Gaussian noise on D's input (Salimans et al.'s MNIST model)
HIDDEN_NOISE = 0.5  # ... and after each hidden layer
LABEL_DRAW_OFFSET = 104_729  # the labelled subset's generator is seeded with seed + this, apart from the others
INIT_DRAW_OFFSET = 15_485_863  # ... and the batch of D's data-dependent initialisation with seed + this
INIT_BATCH = 500


# ---------------------------------------------------------------------------------------------- the objectives
def sgan_d_losses(logits_lab: Tensor, y: Tensor, logits_unl: Tensor, logits_fake: Tensor) -> tuple[Tensor, Tensor]:
    """D's two objectives: (supervised, unsupervised), both batch means.

    supervised: cross-entropy of the K class logits on labelled examples;
    unsupervised: -log D(x) on unlabelled data - log(1 - D(G(z))) on samples, with D = Z / (Z + 1), Z = sum exp l.
    In log-sum-exp form, l = logsumexp(logits): -log D = softplus(l) - l and -log(1 - D) = softplus(l).
    logits_*: [N, K]; y: [N] int64."""
    supervised = F.cross_entropy(logits_lab, y)
    lse_unl, lse_fake = torch.logsumexp(logits_unl, dim=1), torch.logsumexp(logits_fake, dim=1)  # [N], [N]
    unsupervised = (F.softplus(lse_unl) - lse_unl).mean() + F.softplus(lse_fake).mean()
    return supervised, unsupervised


def feature_matching_loss(features_real: Tensor, features_fake: Tensor) -> Tensor:
    """|| mean f(x) - mean f(G(z)) ||^2 over the batch, divided by the feature count (the mean over features, as
    in Salimans et al.'s code). features_*: [N, F]."""
    return (features_real.mean(0) - features_fake.mean(0)).pow(2).mean()


def real_probability(logits: Tensor) -> Tensor:
    """D(x) = Z / (Z + 1) of K class logits [N, K] -> [N]."""
    return torch.sigmoid(torch.logsumexp(logits, dim=1))


# ---------------------------------------------------------------------------------------------- the networks
class WNLinear(nn.Module):
    """A dense layer with weight normalisation (Salimans & Kingma 2016): w = g v / ||v||, per output unit."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.randn(d_out, d_in) * 0.05)
        self.g = nn.Parameter(torch.ones(d_out))  # unit-norm rows at the start: pre-activations of unit scale
        self.b = nn.Parameter(torch.zeros(d_out))

    def forward(self, x: Tensor) -> Tensor:
        w = self.v * (self.g / self.v.norm(dim=1)).unsqueeze(1)  # [out, in]
        return F.linear(x, w, self.b)


class GaussianNoise(nn.Module):
    """x + N(0, std^2) while training; the identity in eval mode (classification, probes)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


def d_widths(width: int | None) -> list[int]:
    w = width or 250
    return [4 * w, 2 * w, w, w, w]


class SGANDiscriminator(nn.Module):
    """x [N, *data_shape] -> K class logits [N, K]; `features_and_logits` also returns the last hidden layer."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int, width: int | None = None) -> None:
        super().__init__()
        self.data_shape, self.num_classes, self.z_dim = tuple(data_shape), num_classes, 0
        layers: list[nn.Module] = [GaussianNoise(INPUT_NOISE)]
        d = math.prod(data_shape)
        for i, h in enumerate(d_widths(width)):
            if i:
                layers.append(GaussianNoise(HIDDEN_NOISE))
            layers += [WNLinear(d, h), nn.ReLU()]
            d = h
        self.features = nn.Sequential(*layers)
        self.noise = GaussianNoise(HIDDEN_NOISE)
        self.head = WNLinear(d, num_classes)

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Salimans & Kingma's data-dependent initialisation: each weight-normalised layer's scale and bias are set
        so that its pre-activations on the batch x have mean 0 and variance 1 per unit (noise off). Without it
        every layer shrinks the signal by about half its energy, and the fixed-std noise drowns it by the last
        layers. x: [N, *data_shape]"""
        h = x.reshape(x.shape[0], -1)
        for m in [*self.features, self.head]:
            if isinstance(m, WNLinear):
                t = m(h)  # [N, out]
                mean, std = t.mean(0), t.std(0).clamp_min(1e-6)
                m.g.div_(std)
                m.b.copy_((m.b - mean) / std)
                h = m(h)
            elif not isinstance(m, GaussianNoise):
                h = m(h)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x.reshape(x.shape[0], -1))  # [N, w]: what feature matching compares
        return h, self.head(self.noise(h))  # [N, w], [N, K]

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.features_and_logits(x)[1]  # [N, K]


def labelled_subset(y: Tensor, num_classes: int, per_class: int, seed: int) -> Tensor:
    """Indices of `per_class` examples of each class, drawn without replacement by a generator seeded with
    `seed` (so the five label draws of the protocol are five seeds). y: [N] -> [K * per_class], sorted."""
    g = torch.Generator().manual_seed(seed + LABEL_DRAW_OFFSET)
    picks = []
    for c in range(num_classes):
        idx = torch.nonzero(y.cpu() == c).flatten()
        if len(idx) < per_class:
            raise ConfigError(f"--labels-per-class {per_class}: class {c} has only {len(idx)} examples")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picks).sort().values


class SGAN(Method):
    name = "sgan"
    inference: ClassVar[dict[str, str]] = {"classify": "D"}
    recipe: ClassVar[dict[str, Any]] = {"batch_size": 100, "lr_g": 1e-3, "lr_d": 1e-3,
                                        "beta2": 0.999, "d_width": 250, "steps": 6000}

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if data.num_classes == 0 or data.y is None:
            raise ConfigError(f"--method sgan needs a labelled data set; {cfg.dataset!r} has no labels")
        if cfg.labels_per_class <= 0:
            raise ConfigError("--method sgan needs --labels-per-class N (labelled examples per class, e.g. 10)")
        if cfg.conditional:
            raise ConfigError("--method sgan trains an unconditional G; drop --conditional")
        if self.parts.discriminator is not None or self.parts.loss is not None:
            raise ConfigError("--method sgan builds its own classifier D and objective; give no discriminator or "
                              "loss")
        self.num_classes = data.num_classes
        self.labelled = labelled_subset(data.y, self.num_classes, cfg.labels_per_class, cfg.seed)  # [K * N]
        self._lab: tuple[Tensor, Tensor] | None = None  # the labelled images and labels on the training device

    # ------------------------------------------------------------------ declarations
    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        if name != "D":
            raise KeyError(name)
        return SGANDiscriminator(data_shape, num_classes, cfg.resolved().d_width)

    def build(self) -> dict[str, nn.Module]:
        cfg, shape = self.cfg, tuple(self.data.sample_shape)
        G = self.parts.generator or build_networks(cfg, shape, 0)[0]
        G = as_generator(G, data_shape=shape, z_dim=cfg.resolved().z_dim, num_classes=0)
        D = self.inference_net("D", cfg, shape, self.num_classes)
        # data-dependent initialisation on a seeded batch of training images (labels unused)
        g = torch.Generator().manual_seed(cfg.seed + INIT_DRAW_OFFSET)
        pick = torch.randperm(len(self.data), generator=g)[:INIT_BATCH]
        D.data_init(as_float(self.data.x[pick]))
        return {"G": G, "D": D}

    def optimizers(self) -> dict[str, OptimizerGroup]:
        return {"G": OptimizerGroup(("G",), self.cfg.lr_g), "D": OptimizerGroup(("D",), self.cfg.lr_d)}

    def phases(self) -> list[Phase]:
        # G's feature matching compares with a real batch of its own (Salimans et al. use an unlabelled batch)
        return [Phase("D", "D", repeats=self.cfg.d_steps), Phase("G", "G", frozen=("D",))]

    def check(self, shard: BatchShard) -> None:
        if not self.data.is_image:
            raise ConfigError(f"--method sgan classifies images; {self.cfg.dataset!r} is toy data")

    # ------------------------------------------------------------------ per step
    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        assert batch is not None
        if phase.name == "D":
            return self._d_loss(batch, ctx, last=ctx.repeat == phase.repeats - 1)
        return self._g_loss(batch, ctx)

    def _labelled_batch(self, ctx: StepContext, device: torch.device) -> tuple[Tensor, Tensor]:
        """A batch of labelled examples, drawn with replacement from the training stream.  # [b, ...], [b]"""
        if self._lab is None:
            idx = self.labelled
            self._lab = (as_float(self.data.x[idx]).to(device), self.data.y[idx].to(device))
        draws = ctx.draws
        pick = draws.rows(draws.randint(len(self.labelled), draws.batch))
        return self._lab[0][pick], self._lab[1][pick]

    def _d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        # the unlabelled batch's labels (batch.y) are never read: only the labelled subset is supervised
        x_lab, y_lab = self._labelled_batch(ctx, batch.x.device)
        with torch.no_grad():
            fake = ctx.frozen["G"](ctx.draws.z(ctx.nets["G"].z_dim), None)
        D = ctx.train["D"]
        logits_lab, logits_unl, logits_fake = D(x_lab), D(batch.x), D(fake)  # [b, K] each
        supervised, unsupervised = sgan_d_losses(logits_lab, y_lab, logits_unl, logits_fake)
        loss = supervised + unsupervised
        if last:
            ctx.stats.add("Loss/D", loss)
            ctx.stats.add("Loss/D_supervised", supervised)
            ctx.stats.add("Loss/D_unsupervised", unsupervised)
            ctx.stats.add("D/real", real_probability(logits_unl).mean())
            ctx.stats.add("D/fake", real_probability(logits_fake).mean())
            ctx.stats.add("Accuracy/labelled", (logits_lab.argmax(1) == y_lab).float().mean())
        return loss

    def _g_loss(self, batch: Batch, ctx: StepContext) -> Tensor:
        fake = ctx.train["G"](ctx.draws.z(ctx.nets["G"].z_dim), None)
        D = ctx.frozen["D"]
        with torch.no_grad():
            f_real, _ = _features(D, batch.x)
        f_fake, _ = _features(D, fake)
        loss = feature_matching_loss(f_real, f_fake)
        ctx.stats.add("Loss/G", loss)
        return loss

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        from ..models.prior import sample_prior

        g = torch.Generator(device=device).manual_seed(self.cfg.seed + 7919)
        return (sample_prior(self.cfg.prior, self.cfg.n_samples, int(nets["G"].z_dim), g, device), None), 0


def _features(D: Any, x: Tensor) -> tuple[Tensor, Tensor]:
    """D's last hidden layer and logits, through a compiled or DDP-wrapped forward too."""
    module = getattr(D, "module", None) or getattr(D, "_orig_mod", None) or D
    return module.features_and_logits(x)


@torch.no_grad()
def classify_error(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """The fraction of `x` [N, C, H, W] in [-1, 1] whose argmax class differs from `y` [N], in eval mode."""
    was = net.training
    net.eval()
    wrong = 0
    for i in range(0, len(x), batch_size):
        logits = net(as_float(x[i:i + batch_size]))
        wrong += int((logits.argmax(1).cpu() != y[i:i + batch_size].cpu()).sum())
    net.train(was)
    return wrong / max(len(x), 1)
