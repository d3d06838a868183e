"""A small, fast GAN trainer for the low-dimensional toys (ring8, grid25, gaussian1d), vectorised over seeds, with
the mode-collapse remedies as options: minibatch discrimination, PacGAN packing, WGAN-GP and unrolled D.
Packing and the minibatch features are gankit's own (`gankit.models.packing`, `gankit.models.minibatch`, what
`gankit train --pack / --minibatch-disc` use). The unrolled look-ahead here is the Adam update with D's real
optimizer state (`adam_lookahead`), as Metz et al. unroll; `gankit train --unrolled` has no access to the loop's
optimizer state and takes a stateless Adam-like step instead (`gankit.methods.unroll`), whose per-tensor scale
would mix the seeds stacked here.

Why not `gankit.train`: the theory lab runs dozens of short toy runs on a 2-core CPU. Here the networks are pure
functions of stacked weights ([S, fan_in, fan_out] per layer, one slice per seed), so S seeds train in one
`torch.baddbmm` per layer, and unrolling D is just calling the same function on updated weight tensors. Each
seed's slice is an independent GAN: its own initialisation, its own random stream, per-seed losses summed (so
each slice gets exactly its own gradient) and Adam, which acts elementwise.

Architecture (close to Metz et al. 2017's toy nets): G: z -> 128 -> 128 -> data (ReLU, linear output);
D: data (x m when packed) -> 128 -> 128 -> [minibatch features] -> 1 (LeakyReLU 0.2), raw logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import progress
from ..data import TOY_MODES, gaussian1d_params, load_dataset
from ..errors import ConfigError
from ..evaluation.metrics import jsd_1d, mode_stats
from ..losses import get_loss
from ..models.minibatch import KERNEL_DIM, minibatch_features
from ..models.packing import pack_samples
from ..regularizers import gradient_penalty

METHODS: tuple[str, ...] = ("vanilla", "minibatch", "pacgan", "wgan-gp", "unrolled")
METHOD_LABELS: dict[str, str] = {
    "vanilla": "vanilla GAN",
    "minibatch": "minibatch discrimination",
    "pacgan": "PacGAN",
    "wgan-gp": "WGAN-GP",
    "unrolled": "unrolled D",
}
TOY_DATA: tuple[str, ...] = ("ring8", "grid25", "gaussian1d")


@dataclass(frozen=True)
class ToyConfig:
    """One toy experiment: a data set, a method, and the budget; `seeds` train side by side."""

    dataset: str = "ring8"
    method: str = "vanilla"
    seeds: tuple[int, ...] = (0,)
    steps: int = 2000
    batch_size: int = 256
    width: int = 128
    z_dim: int = 16
    loss: str = "nonsaturating"  # a gankit.losses name; method "wgan-gp" forces "wgan-gp"
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1
    pack: int = 2  # PacGAN: samples per packed D input (Lin et al. 2018 use 2 to 4)
    unroll: int = 5  # unrolled D: k look-ahead Adam steps (Metz et al. 2017 use 5 to 10)
    mbd_kernels: int = 5  # minibatch discrimination: B kernels of dimension C (Salimans et al. 2016)
    mbd_dim: int = KERNEL_DIM
    gp_weight: float = 10.0
    log_every: int = 50
    snapshot_steps: tuple[int, ...] = ()  # steps (after that many G updates; 0 = init) whose samples are kept
    eval_n: int = 2500  # samples for the mode protocol (VEEGAN / PacGAN) or the 1-D JSD

    def checked(self) -> ToyConfig:
        if self.dataset not in TOY_DATA:
            raise ConfigError(f"toy trainer: unknown data set {self.dataset!r}; choose one of {', '.join(TOY_DATA)}")
        if self.method not in METHODS:
            raise ConfigError(f"toy trainer: unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.seeds:
            raise ConfigError("toy trainer: seeds must name at least one seed")
        if self.method == "pacgan" and (self.pack < 2 or self.batch_size % self.pack):
            raise ConfigError(f"toy trainer: pack {self.pack} must be >= 2 and divide batch size {self.batch_size}")
        for key in ("steps", "batch_size", "width", "z_dim", "d_steps", "log_every", "eval_n"):
            if getattr(self, key) < 1:
                raise ConfigError(f"toy trainer: {key} must be >= 1, got {getattr(self, key)}")
        if self.method == "wgan-gp":
            return replace(self, loss="wgan-gp")
        return self


@dataclass
class ToyResult:
    """What a run recorded, per seed (lists are indexed like `config.seeds`)."""

    config: ToyConfig
    history: list[dict[str, Any]] = field(default_factory=list)  # every log_every steps: per-seed lists
    snapshots: dict[int, Tensor] = field(default_factory=dict)  # step -> samples [S, n, dim]
    final: list[dict[str, Any]] = field(default_factory=list)  # per seed: mode_stats or {"jsd": ...}


# ------------------------------------------------------------------------------------ stacked (per-seed) MLPs
def init_mlp(sizes: list[int], seeds: tuple[int, ...], salt: int) -> list[Tensor]:
    """Weights [S, fan_in, fan_out] and biases [S, 1, fan_out] for each layer, drawn per seed like nn.Linear's
    default (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), from a generator seeded by (seed, salt)."""
    per_seed = []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s) * 7919 + salt)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            layers.append((torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound)
            layers.append((torch.rand(1, fan_out, generator=g) * 2 - 1) * bound)
        per_seed.append(layers)
    return [torch.stack(ts).requires_grad_(True) for ts in zip(*per_seed)]


def mlp(params: list[Tensor], x: Tensor, act: str, n_layers: int) -> tuple[Tensor, Tensor]:
    """Run the first n_layers (W, b) pairs of params on x [S, N, in]; returns (output of the last of them, the
    hidden activation before it). Activations after every layer but the last."""
    h = x
    hidden = x
    for i in range(n_layers):
        W, b = params[2 * i], params[2 * i + 1]
        hidden = h
        h = torch.baddbmm(b, h, W)  # [S, N, out]
        if i < n_layers - 1:
            h = F.relu(h) if act == "relu" else F.leaky_relu(h, 0.2)
    return h, hidden


class ToyGAN:
    """G and D for one ToyConfig, as stacked weights and pure forward functions."""

    def __init__(self, cfg: ToyConfig, data_dim: int) -> None:
        self.cfg = cfg
        w = cfg.width
        self.dim = data_dim
        self.g_params = init_mlp([cfg.z_dim, w, w, data_dim], cfg.seeds, salt=1)
        pack = cfg.pack if cfg.method == "pacgan" else 1
        self.pack = pack
        self.mbd = cfg.method == "minibatch"
        body = init_mlp([data_dim * pack, w, w], cfg.seeds, salt=2)
        head_in = w + (cfg.mbd_kernels if self.mbd else 0)
        head = init_mlp([head_in, 1], cfg.seeds, salt=3)
        self.d_params = body + head
        if self.mbd:  # T [S, A, B, C] at N(0, 1/A), as gankit.models.minibatch.MinibatchDiscrimination
            g = torch.Generator().manual_seed(cfg.seeds[0] * 7919 + 4)
            T = torch.randn(len(cfg.seeds), w, cfg.mbd_kernels, cfg.mbd_dim, generator=g) / math.sqrt(w)
            self.d_params.append(T.requires_grad_(True))

    def G(self, z: Tensor, params: list[Tensor] | None = None) -> Tensor:
        return mlp(params or self.g_params, z, "relu", 3)[0]  # [S, N, dim]

    def D(self, x: Tensor, params: list[Tensor] | None = None) -> Tensor:
        """Logits [S, N / pack] for points x [S, N, dim] (packed: m consecutive samples form one input)."""
        p = params or self.d_params
        S, N, dim = x.shape
        # gankit's packing (the --pack option): each seed's rows are consecutive, so no pack spans two seeds
        h = pack_samples(x.reshape(S * N, dim), self.pack).view(S, N // self.pack, dim * self.pack)
        h = F.leaky_relu(mlp(p[:4], h, "leaky", 2)[0], 0.2)  # [S, N', w]
        if self.mbd:  # gankit's minibatch features (the --minibatch-disc option), within each seed's batch
            h = torch.cat([h, minibatch_features(h, p[6])], dim=2)
        return torch.baddbmm(p[5], h, p[4]).squeeze(2)  # [S, N']


def per_seed_norm(grads: list[Tensor]) -> Tensor:
    """L2 norm over all parameters of each seed's slice.  # [S]"""
    return torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))


def adam_lookahead(params: list[Tensor], grads: list[Tensor], state: list[dict[str, Tensor]], lr: float,
                   betas: tuple[float, float], eps: float = 1e-8) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """One differentiable Adam step (the update torch.optim.Adam makes), for unrolling: returns new parameters
    and moments without touching the real optimizer. Metz et al. 2017 unroll with the optimizer D really uses."""
    b1, b2 = betas
    new_params, new_state = [], []
    for p, g, st in zip(params, grads, state):
        t = st["step"] + 1
        m = b1 * st["exp_avg"] + (1 - b1) * g
        v = b2 * st["exp_avg_sq"] + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        new_params.append(p - lr * m_hat / (torch.sqrt(v_hat + 1e-16) + eps))  # +1e-16: finite grad of sqrt at 0
        new_state.append({"step": t, "exp_avg": m, "exp_avg_sq": v})
    return new_params, new_state


# ------------------------------------------------------------------------------------------------- training
def _evaluate(cfg: ToyConfig, samples: Tensor) -> list[dict[str, Any]]:
    """Per-seed quality of samples [S, n, dim]: mode_stats for the mixtures, JSD (nats) for gaussian1d."""
    out = []
    for s in range(samples.shape[0]):
        x = samples[s]
        if not torch.isfinite(x).all():
            out.append({"modes": 0, "hq": 0.0} if cfg.dataset in TOY_MODES else {"jsd": math.log(2)})
        elif cfg.dataset in TOY_MODES:
            centres, std = TOY_MODES[cfg.dataset]
            st = mode_stats(x, centres, std)
            out.append({"modes": st["modes"], "hq": st["hq"]})
        else:
            mu, sigma = gaussian1d_params()
            out.append({"jsd": jsd_1d(x, mu, sigma)})
    return out


def train_toy(cfg: ToyConfig, bar: Any = None) -> ToyResult:
    """Train len(cfg.seeds) independent GANs side by side; deterministic given the config. `bar` (a
    gankit.progress bar) advances by one per G step."""
    bar = bar or progress.silent()
    cfg = cfg.checked()
    S, N = len(cfg.seeds), cfg.batch_size
    data = load_dataset(cfg.dataset, n=50_000, seed=0).x  # [50000, dim]: one fixed sample of the target
    net = ToyGAN(cfg, data.shape[1])
    loss = get_loss(cfg.loss)
    opt_g = torch.optim.Adam(net.g_params, lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(net.d_params, lr=cfg.lr_d, betas=cfg.betas)
    gens = [torch.Generator().manual_seed(int(s)) for s in cfg.seeds]  # one random stream per seed
    eval_z = torch.stack([torch.randn(cfg.eval_n, cfg.z_dim, generator=torch.Generator().manual_seed(int(s) + 99))
                          for s in cfg.seeds])  # [S, eval_n, z]: the same noise at every snapshot
    gp_gen = torch.Generator().manual_seed(int(cfg.seeds[0]) + 7)  # WGAN-GP's interpolation weights
    result = ToyResult(cfg)

    def real_batch() -> Tensor:
        return torch.stack([data[torch.randint(0, len(data), (N,), generator=g)] for g in gens])  # [S, N, dim]

    def noise() -> Tensor:
        return torch.stack([torch.randn(N, cfg.z_dim, generator=g) for g in gens])  # [S, N, z]

    def d_objective(real: Tensor, fake: Tensor, d_params: list[Tensor] | None = None) -> tuple[Tensor, Tensor,
                                                                                                Tensor]:
        r, f = net.D(real, d_params), net.D(fake, d_params)
        # losses average over seeds too; x S gives each seed's slice exactly its own gradient
        return S * loss.d_loss(r, f), r, f

    def snapshot(step: int) -> None:
        with torch.no_grad():
            x = net.G(eval_z)
        if step in cfg.snapshot_steps:
            result.snapshots[step] = x.clone()
        if step == cfg.steps:
            result.final = _evaluate(cfg, x)

    snapshot(0)
    for step in range(1, cfg.steps + 1):
        # ---- D phase (k times)
        for _ in range(cfg.d_steps):
            real = real_batch()
            with torch.no_grad():
                fake = net.G(noise())
            d_loss, r_logits, f_logits = d_objective(real, fake)
            if loss.uses_gradient_penalty:
                flat = lambda x: net.D(x.view(S, N, -1)).reshape(-1)  # noqa: E731 -- [S*N] logits of [S*N, dim]
                d_loss = d_loss + S * gradient_penalty(flat, real.reshape(S * N, -1), fake.reshape(S * N, -1),
                                                       weight=cfg.gp_weight, generator=gp_gen)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        # ---- G phase
        z = noise()
        fake = net.G(z)
        d_params = net.d_params
        if cfg.method == "unrolled":
            # k look-ahead D steps on this batch, kept in the graph: G's gradient includes how D would react
            state = [{k: v.detach() for k, v in opt_d.state[p].items()} for p in net.d_params]
            for st in state:
                st["step"] = float(st["step"])
            for _ in range(cfg.unroll):
                dl, _, _ = d_objective(real, fake, d_params)
                grads = torch.autograd.grad(dl, d_params, create_graph=True)
                d_params, state = adam_lookahead(d_params, list(grads), state, cfg.lr_d, cfg.betas)
        f_logits_g = net.D(fake, d_params)
        g_loss = S * loss.g_loss(f_logits_g)
        g_grads = torch.autograd.grad(g_loss, net.g_params)
        for p, g in zip(net.g_params, g_grads):
            p.grad = g
        opt_g.step()
        bar.update(1)
        # ---- log
        if step % cfg.log_every == 0 or step == cfg.steps:
            with torch.no_grad():
                row: dict[str, Any] = {"step": step,
                                       "d_loss": [float(v) for v in _per_seed_d_loss(loss, r_logits, f_logits)],
                                       "g_grad_norm": per_seed_norm(list(g_grads)).tolist()}
                if loss.probabilistic:  # accuracy of the last D batch, before this G update
                    row["acc_real"] = (r_logits > 0).float().mean(1).tolist()
                    row["acc_fake"] = (f_logits < 0).float().mean(1).tolist()
                    row["d_real"] = torch.sigmoid(r_logits).mean(1).tolist()
                    row["d_fake"] = torch.sigmoid(f_logits).mean(1).tolist()
            result.history.append(row)
        if step in cfg.snapshot_steps or step == cfg.steps:
            snapshot(step)
    return result


def _per_seed_d_loss(loss: Any, r: Tensor, f: Tensor) -> list[float]:
    return [float(loss.d_loss(r[s], f[s])) for s in range(r.shape[0])]


def quality_curve(cfg: ToyConfig, result: ToyResult) -> dict[int, list[dict[str, Any]]]:
    """The per-seed quality at every kept snapshot (step -> list over seeds)."""
    return {step: _evaluate(cfg, x) for step, x in sorted(result.snapshots.items())}
