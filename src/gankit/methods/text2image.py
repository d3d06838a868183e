"""Text to image at small scale (after Reed et al. 2016, "Generative adversarial text to image synthesis"):
MNIST / Fashion-MNIST drawn from captions such as "a thick seven slanting left" or "a dark ankle boot".

Captions come from each real image's label and attributes measured on its pixels (gankit.data.captions); while
training, each attribute is named with probability 0.7, the draws coming from the loop's seeded stream. G draws an
image from noise and a caption; D, matching-aware (the paper's GAN-CLS), scores (image, caption) pairs: a real
image with its own caption counts as real, and both a real image with a mismatched caption (another image's in the
batch) and a generated image with its caption count as fake, each of the two halves weighted 1/2:

    L_D = loss.d_loss(s_real, s_fake) / 2 + loss.d_loss(s_real, s_mismatch) / 2

under any of gankit's objectives without a gradient penalty. G minimises loss.g_loss(D(G(z, t), t)) on the
captions of a fresh real batch. G and D each own a caption encoder (gankit.models.text) trained with them.

Drawing: `gankit sample RUN --text "a thin two" [--text ...]` (one row per caption), or
`sample_text(gankit.load(RUN), ["a thin two"])` from Python. `gankit evaluate` scores a run with `scores`:
on the captions of held-out real images, how often the shipped classifier agrees with the caption's class and
the measured attributes with the caption's, beside the same agreement with a random other caption (the control).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..data import captions as C
from ..errors import ConfigError
from ..models.prior import sample_prior
from ..models.text import MatchingDiscriminator, TextConditionalGenerator
from .base import Batch, Method, OptimizerGroup, Phase, StepContext, log_d_scores, loss_without_penalty

#: the attribute phrases of each row of samples/step_*.png (one column per class)
GRID_PHRASES = {"mnist": ["a thin {}", "a thick {}", "a {} slanting left", "a {} slanting right",
                          "a thin {} standing upright", "a thick {} slanting right"],
                "fashion-mnist": ["a dark {}", "a light {}", "a {}", "a dark {}", "a light {}", "a {}"]}


def generator_for(cfg: TrainConfig) -> TextConditionalGenerator:
    cfg = cfg.resolved()
    return TextConditionalGenerator(cfg.z_dim, len(C.VOCAB), width=cfg.width)


def grid_captions(fam: str) -> list[str]:
    """The captions behind every samples/step_*.png: each phrase row by row, for every class."""
    names = C.DIGITS if fam == "mnist" else C.GARMENTS
    out = []
    for phrase in GRID_PHRASES[fam]:
        for name in names:
            words = phrase.format(name).split(" ", 1)[1]
            out.append(("an " if words.startswith(C.AN_WORDS) else "a ") + words)
    return out


@torch.no_grad()
def sample_text(G: Any, texts: list[str], n: int = 1, seed: int | None = None) -> Tensor:
    """n images for each caption of `texts` from a loaded text2image run (gankit.load), caption by caption.
    # -> [len(texts) * n, 1, 28, 28] in [-1, 1]"""
    net = getattr(G, "net", G)
    if not isinstance(net, TextConditionalGenerator):
        method = getattr(getattr(G, "config", None), "method", "?")
        raise ConfigError(f"captions apply to text-to-image runs (--method text2image); this run's method is "
                          f"{method!r}")
    if n < 1 or not texts:
        raise ConfigError(f"give at least one caption and n >= 1, got {len(texts)} caption(s) and n={n}")
    tokens = C.tokenize(list(texts)).repeat_interleave(n, dim=0).to(G.device)  # [len * n, L]
    z = G.sample_z(len(tokens), seed)
    return torch.cat([net(z[i:i + 500], tokens[i:i + 500]) for i in range(0, len(z), 500)])


class Text2Image(Method):
    name = "text2image"
    uses_model = False  # its own networks, whatever --model says
    # DCGAN's optimiser (Adam 2e-4, beta1 0.5) as Reed et al. trained with. Width 32 and batches of 32: a step of
    # G and D's three scorings at width 64, batch 64 took 0.46 s on one shared CPU thread, at width 32 0.26 s;
    # the image recipe's batch of 32 halves that again, so 6,000 steps fit in about 30 minutes
    recipe: ClassVar[dict[str, Any]] = {"z_dim": 64, "width": 32, "d_width": 32, "batch_size": 32, "steps": 6000,
                                        "d_steps": 1, "lr_g": 2e-4, "lr_d": 2e-4, "beta2": 0.999, "ema": 0.999,
                                        "r1": 0.0, "mode_seeking": 0.0}
    own_scores: ClassVar[bool] = True

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        self.family = C.family(cfg.dataset)
        if tuple(data.sample_shape) != (1, 28, 28) or data.y is None:
            raise ConfigError(f"--method text2image captions labelled grey 28x28 images; {cfg.dataset!r} gives "
                              f"{list(data.sample_shape)} (drop --image-size / --channels)")
        if cfg.conditional:
            raise ConfigError("--method text2image is conditioned on captions; drop --conditional")
        if self.parts.generator is not None or self.parts.discriminator is not None or self.parts.loss is not None:
            raise ConfigError("--method text2image builds its own G, D and objective; give no generator, "
                              "discriminator or loss")
        self.knobs = {"loss": loss_without_penalty(cfg, "text2image")}
        self.attributes = len(C.attributes(torch.zeros(1, 1, 28, 28), self.family))

    # ------------------------------------------------------------------ declarations
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
        return generator_for(cfg)

    def build(self) -> dict[str, nn.Module]:
        return {"G": generator_for(self.cfg),
                "D": MatchingDiscriminator(len(C.VOCAB), width=self.cfg.d_width or self.cfg.width)}

    def optimizers(self) -> dict[str, OptimizerGroup]:
        return {"G": OptimizerGroup(("G",), self.cfg.lr_g), "D": OptimizerGroup(("D",), self.cfg.lr_d)}

    def phases(self) -> list[Phase]:
        # G's phase takes a real batch too: its captions are those of real images
        return [Phase("D", "D", repeats=self.cfg.d_steps), Phase("G", "G", frozen=("D",))]

    # ------------------------------------------------------------------ per step
    def _tokens(self, batch: Batch, ctx: StepContext) -> Tensor:
        """The batch's captions, each attribute named with probability KEEP (from the training stream)."""
        keep = ctx.draws.rand_like_rows(batch.x, (self.attributes,)) < C.KEEP  # [b, A]
        assert batch.y is not None
        return C.caption_tokens(batch.x, batch.y, self.family, keep)  # [b, L]

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        assert batch is not None
        loss, tokens = self.knobs["loss"], self._tokens(batch, ctx)
        z = ctx.draws.z(self.cfg.z_dim)
        if phase.name == "D":
            with torch.no_grad():
                fake = ctx.frozen["G"](z, tokens)
            D = ctx.train["D"]
            s_real, s_fake = D(batch.x, tokens), D(fake, tokens)  # [b], [b]
            s_wrong = D(batch.x, tokens.roll(1, dims=0))  # each image with its neighbour's caption
            loss_d = 0.5 * loss.d_loss(s_real, s_fake) + 0.5 * loss.d_loss(s_real, s_wrong)
            if ctx.repeat == phase.repeats - 1:
                log_d_scores(ctx.stats, loss, loss_d, s_real, s_fake)
                ctx.stats.add("Score/mismatch", s_wrong.mean())
            return loss_d
        loss_g = loss.g_loss(ctx.frozen["D"](ctx.train["G"](z, tokens), tokens))
        ctx.stats.add("Loss/G", loss_g)
        return loss_g

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Any, ...], int]:
        texts = grid_captions(self.family)
        g = torch.Generator(device=device).manual_seed(self.cfg.seed + 7919)
        z = sample_prior(self.cfg.prior, len(texts), self.cfg.z_dim, g, device)
        return (z, C.tokenize(texts).to(device)), 10

    # ------------------------------------------------------------------ evaluation
    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        from ..evaluation.captions import score_text2image

        return score_text2image(G, n=n, seed=seed, data_dir=data_dir, classifier=classifier)
