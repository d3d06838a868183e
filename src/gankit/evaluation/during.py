"""Scores during training (`--eval-every N`): a learning curve in metrics.jsonl.

Images (MNIST family, 28x28 grey): FID and KID of `eval_n` samples against the real training data (up to 10,000
images, a fixed seeded subset whose features are computed once). Toys: modes and high-quality fraction
(ring8, grid25) or the JS divergence (gaussian1d). The evaluator draws its own noise from a generator seeded by
(seed, step) and leaves every training random stream untouched, so runs with and without it train identically.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..data import TOY_MODES, Dataset, gaussian1d_params
from ..data.transforms import as_float
from ..errors import ConfigError
from ..torch_utils import eval_mode
from . import metrics
from .evaluate import IMAGE_DATASETS

MAX_REFERENCE = 10000


class TrainingEvaluator:
    """Callable `(G, step) -> {"Eval/...": float}`; construct once per run (it embeds the reference data)."""

    def __init__(self, cfg: TrainConfig, data: Dataset) -> None:
        self.seed = cfg.seed
        self.n = cfg.eval_n
        self.prior = cfg.prior
        self.dataset = cfg.dataset
        self.num_classes = data.num_classes if cfg.conditional else 0
        self.kind: str
        if cfg.dataset in TOY_MODES:
            self.kind = "modes"
            self.centres, self.std = TOY_MODES[cfg.dataset]
        elif cfg.dataset == "gaussian1d":
            self.kind = "jsd"
            self.mu, self.sigma = gaussian1d_params(cfg.toy_options or None)
        elif tuple(data.sample_shape) == (1, 28, 28) and cfg.dataset in IMAGE_DATASETS:
            from .classifier import load_classifier

            self.kind = "fid"
            self.net = load_classifier(cfg.dataset)  # mnist5k is scored in MNIST's feature space
            gen = torch.Generator().manual_seed(cfg.seed)
            idx = torch.randperm(len(data), generator=gen)[:MAX_REFERENCE]
            self.ref_feats, _ = self.net.embed(as_float(data.x[idx]).cpu())
        else:
            raise ConfigError(f"--eval-every has no metric for {cfg.dataset!r} at shape {tuple(data.sample_shape)}: "
                              "it scores MNIST / Fashion-MNIST at 28x28 grey, ring8, grid25 and gaussian1d")

    @torch.no_grad()
    def __call__(self, G: nn.Module, step: int) -> dict[str, Any]:
        from ..models.prior import sample_prior

        device = next(G.parameters()).device
        gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + step)
        with eval_mode(G):
            fakes = []
            for start in range(0, self.n, 1000):
                k = min(1000, self.n - start)
                z = sample_prior(self.prior, k, G.z_dim, gen, device)
                y = (torch.arange(start, start + k, device=device) % self.num_classes) if self.num_classes else None
                fakes.append(G(z, y).float().cpu())
            fake = torch.cat(fakes)
        if self.kind == "modes":
            s = metrics.mode_stats(fake, self.centres, self.std)
            return {"Eval/modes": float(s["modes"]), "Eval/hq": float(s["hq"])}
        if self.kind == "jsd":
            return {"Eval/JSD": metrics.jsd_1d(fake.view(-1), self.mu, self.sigma)}
        feats, _ = self.net.embed(fake)
        kid, _ = metrics.kid(feats, self.ref_feats, subsets=20, subset_size=min(1000, self.n), seed=self.seed)
        return {"Eval/FID": metrics.fid(feats, self.ref_feats), "Eval/KID": kid}
