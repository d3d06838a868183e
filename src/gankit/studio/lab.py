"""The live lab: a real gankit toy GAN trained step by step in a background thread of the studio's server.

The networks are the theory lab's toy nets (`gankit.theory.toy2d.ToyGAN`: G z -> 128 -> 128 -> data, D with
gankit's packing / minibatch features), the objectives `gankit.losses`, the penalty `gankit.regularizers`, the
unrolled look-ahead `toy2d.adam_lookahead`, the mode protocol `evaluation.metrics.mode_stats` and the findings
`health.monitor.HealthMonitor`. `theory.toy2d.train_toy` runs a whole budget in one call; the lab needs one step
at a time with learning rates and loss changed between steps, so `LabTrainer.step` is that loop's body for one
seed, kept in the order train_toy uses (k D updates, then G).

`LabRunner` owns the thread and one lock: a step, a parameter change and the copy of the weights a frame is drawn
from each happen under it, so a change takes effect exactly at the next step and a frame never sees half an update.
Drawing (D over a grid, G's gradient on its samples) runs on the copy, outside the lock, in the request's thread.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import numpy as np
from torch import Tensor

from ..data import TOY_MODES, gaussian1d_params, load_dataset
from ..errors import ConfigError
from ..evaluation.metrics import jsd_1d, mode_stats
from ..health.monitor import HealthMonitor
from ..losses import LOSS_NAMES, get_loss
from ..regularizers import gradient_penalty
from ..theory.toy2d import METHODS, ToyConfig, ToyGAN, adam_lookahead
from .security import RequestError, bounded_float, bounded_int, choice

LAB_DATA: tuple[str, ...] = ("ring8", "grid25", "swissroll", "gaussian1d", "drawn")
# the toy runs' tricks (theory.toy2d.METHODS): they change D's architecture or the G step, so a reset applies them
TRICKS: tuple[str, ...] = METHODS
LIMITS: dict[str, tuple[float, float]] = {
    "lr": (1e-6, 0.1), "d_steps": (1, 10), "batch_size": (16, 1024), "seed": (0, 2**31 - 1),
    "label_smoothing": (0.0, 0.45), "steps_once": (1, 500), "points": (2, 2000), "coord": (-6.0, 6.0),
    "unroll": (1, 10),
}
MAX_STEPS = 1_000_000  # the thread pauses itself here: a forgotten tab does not train forever
LOG_EVERY = 25  # steps per history row (and per health-monitor update)
HISTORY_ROWS = 4000
EVAL_N = 2500  # samples for the mode protocol (VEEGAN / PacGAN use 2,500)
VIEW_N = 400  # real and generated points drawn on the canvas
ARROWS = 80  # generated points that carry G's gradient arrow
HEAT = 32  # D is drawn on a HEAT x HEAT grid (the page smooths it; 2-D) or 6 * HEAT points (1-D)
FRAME_EVERY_S = 0.11  # a watched lab draws a frame this often while it trains (about 9 a second)
WATCH_S = 2.0  # ... for this long after the last poll
DRAWN_STD = 0.05  # drawn points become a mixture of small Gaussians at the points


@dataclass(frozen=True)
class LabConfig:
    """A lab run. `loss`, `lr_g`, `lr_d`, `d_steps` and `label_smoothing` may change while it trains; the rest
    are fixed by a reset."""

    dataset: str = "ring8"
    trick: str = "vanilla"
    loss: str = "nonsaturating"
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    d_steps: int = 1
    label_smoothing: float = 0.0
    batch_size: int = 256
    unroll: int = 5
    seed: int = 0
    points: tuple[tuple[float, float], ...] = ()  # the drawn data set, in data coordinates

    def checked(self) -> LabConfig:
        if self.dataset == "drawn" and len(self.points) < 2:
            raise RequestError("the drawn data set needs at least 2 points: draw on the canvas first")
        if self.trick == "pacgan" and self.batch_size % 2:
            raise RequestError(f"PacGAN packs pairs: batch_size must be even, got {self.batch_size}")
        if self.trick == "wgan-gp":
            return replace(self, loss="wgan-gp", label_smoothing=0.0)
        return self


LIVE_KEYS = ("loss", "lr_g", "lr_d", "d_steps", "label_smoothing")


def parse_config(body: Any, base: LabConfig | None = None) -> LabConfig:
    """A LabConfig from a JSON object; every key is optional (missing keys keep `base`), every value bounded."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    known = {f for f in LabConfig.__dataclass_fields__}
    unknown = sorted(set(body) - known)
    if unknown:
        raise RequestError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    cfg = base or LabConfig()
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "dataset":
            out[key] = choice(value, key, LAB_DATA)
        elif key == "trick":
            out[key] = choice(value, key, TRICKS)
        elif key == "loss":
            out[key] = choice(value, key, LOSS_NAMES)
        elif key in ("lr_g", "lr_d"):
            out[key] = bounded_float(value, key, *LIMITS["lr"])
        elif key == "label_smoothing":
            out[key] = bounded_float(value, key, *LIMITS["label_smoothing"])
        elif key in ("d_steps", "batch_size", "seed", "unroll"):
            out[key] = bounded_int(value, key, *(int(v) for v in LIMITS[key]))
        elif key == "points":
            out[key] = _points(value)
    cfg = replace(cfg, **out)
    if cfg.label_smoothing and cfg.loss in ("wgan-gp", "hinge"):
        raise RequestError(f"label_smoothing has no meaning for the {cfg.loss} loss (set it to 0)")
    return cfg


def _points(value: Any) -> tuple[tuple[float, float], ...]:
    lo, hi = LIMITS["points"]
    if not isinstance(value, list) or not lo - 2 <= len(value) <= hi:  # an empty list clears the drawing
        raise RequestError(f"points must be a list of at most {int(hi)} [x, y] pairs")
    out = []
    for p in value:
        if not isinstance(p, list) or len(p) != 2:
            raise RequestError("each point must be an [x, y] pair")
        out.append((bounded_float(p[0], "point x", *LIMITS["coord"]), bounded_float(p[1], "point y", *LIMITS["coord"])))
    return tuple(out)


def _target(cfg: LabConfig) -> Tensor:
    """50,000 points of the data set.  # [50000, dim]"""
    if cfg.dataset == "drawn":
        g = torch.Generator().manual_seed(cfg.seed)
        pts = torch.tensor(cfg.points, dtype=torch.float32)  # [M, 2]
        idx = torch.randint(0, len(pts), (50_000,), generator=g)
        return pts[idx] + DRAWN_STD * torch.randn(50_000, 2, generator=g)
    return load_dataset(cfg.dataset, n=50_000, seed=0).x


class LabTrainer:
    """One toy GAN (one seed) trained one step at a time; `apply` changes the live settings between steps."""

    def __init__(self, cfg: LabConfig) -> None:
        cfg = cfg.checked()
        self.cfg = cfg
        self.data = _target(cfg)
        self.dim = int(self.data.shape[1])
        toy = ToyConfig(dataset=cfg.dataset, method=cfg.trick, seeds=(cfg.seed,), batch_size=cfg.batch_size,
                        loss=cfg.loss, lr_g=cfg.lr_g, lr_d=cfg.lr_d, d_steps=cfg.d_steps, unroll=cfg.unroll)
        self.toy = toy
        self.net = ToyGAN(toy, self.dim)
        self.opt_g = torch.optim.Adam(self.net.g_params, lr=cfg.lr_g, betas=toy.betas)
        self.opt_d = torch.optim.Adam(self.net.d_params, lr=cfg.lr_d, betas=toy.betas)
        self.loss = get_loss(cfg.loss, label_smoothing=cfg.label_smoothing)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.gp_gen = torch.Generator().manual_seed(cfg.seed + 7)
        self.eval_z = torch.randn(1, EVAL_N, toy.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 99))
        self.view_real = self.data[torch.randperm(len(self.data), generator=torch.Generator().manual_seed(1))[:VIEW_N]]
        self.step_count = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_ROWS)
        self.findings: list[dict[str, Any]] = []
        self.monitor = HealthMonitor(loss=cfg.loss)
        self.sums: dict[str, float] = {}
        self.n_summed = 0
        self.quality: dict[str, Any] = {}

    # ------------------------------------------------------------------ live settings
    def apply(self, changes: dict[str, Any]) -> None:
        """Set the live settings (already bounded by parse_config); the next step uses them."""
        cfg = replace(self.cfg, **{k: v for k, v in changes.items() if k in LIVE_KEYS})
        if self.cfg.trick == "wgan-gp":
            cfg = replace(cfg, loss="wgan-gp", label_smoothing=0.0)
        if cfg.loss != self.cfg.loss or cfg.label_smoothing != self.cfg.label_smoothing:
            self.loss = get_loss(cfg.loss, label_smoothing=cfg.label_smoothing)
            self.monitor.loss = cfg.loss
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        self.cfg = cfg

    # ------------------------------------------------------------------ one step
    def _real(self) -> Tensor:  # [1, N, dim]
        return self.data[torch.randint(0, len(self.data), (self.cfg.batch_size,), generator=self.gen)][None]

    def _noise(self) -> Tensor:  # [1, N, z]
        return torch.randn(1, self.cfg.batch_size, self.toy.z_dim, generator=self.gen)

    def step(self) -> None:
        """k D updates, then one G update (unrolled: G sees D after `unroll` look-ahead Adam steps)."""
        net, loss, cfg = self.net, self.loss, self.cfg
        N = cfg.batch_size
        # ---- D phase (k times)
        for _ in range(cfg.d_steps):
            real = self._real()
            with torch.no_grad():
                fake = net.G(self._noise())
            r, f = net.D(real), net.D(fake)
            d_loss = loss.d_loss(r, f)
            if loss.uses_gradient_penalty:
                flat = lambda x: net.D(x.view(1, N, -1)).reshape(-1)  # noqa: E731 -- [N] logits of [N, dim]
                d_loss = d_loss + gradient_penalty(flat, real[0], fake[0], weight=self.toy.gp_weight,
                                                   generator=self.gp_gen)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        d_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in net.d_params if p.grad is not None))
        # ---- G phase
        fake = net.G(self._noise())
        d_params = net.d_params
        if cfg.trick == "unrolled":
            state = [{k: v.detach() for k, v in self.opt_d.state[p].items()} for p in net.d_params]
            for st in state:
                st["step"] = float(st["step"])
            for _ in range(cfg.unroll):
                dl = loss.d_loss(net.D(real, d_params), net.D(fake, d_params))
                grads = torch.autograd.grad(dl, d_params, create_graph=True)
                d_params, state = adam_lookahead(d_params, list(grads), state, cfg.lr_d, self.toy.betas)
        g_loss = loss.g_loss(net.D(fake, d_params))
        g_grads = torch.autograd.grad(g_loss, net.g_params)
        for p, g in zip(net.g_params, g_grads):
            p.grad = g
        self.opt_g.step()
        self.step_count += 1
        # ---- stats of this step, reduced per LOG_EVERY steps into a history row
        with torch.no_grad():
            stats = {"Loss/D": float(d_loss), "Loss/G": float(g_loss), "Score/real": float(r.mean()),
                     "Score/fake": float(f.mean()), "GradNorm/D": d_norm,
                     "GradNorm/G": math.sqrt(sum(float(g.pow(2).sum()) for g in g_grads))}
            if loss.probabilistic:
                stats["D/real"] = float(torch.sigmoid(r).mean())
                stats["D/fake"] = float(torch.sigmoid(f).mean())
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n_summed += 1
        if self.step_count % LOG_EVERY == 0:
            self._log()

    def _log(self) -> None:
        row: dict[str, Any] = {"step": self.step_count, **{k: v / self.n_summed for k, v in self.sums.items()}}
        self.sums, self.n_summed = {}, 0
        with torch.no_grad():
            x = self.net.G(self.eval_z)[0]  # [EVAL_N, dim]
        self.quality = self._quality(x)
        row.update({f"Eval/{k}": v for k, v in self.quality.items()})
        # the page gets JSON, which has no NaN: a diverged value is shown as a gap (the monitor sees the NaN)
        self.history.append({k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in row.items()})
        for finding in self.monitor.update(row):
            self.findings.append(finding.event())
        del self.findings[:-200]

    def _quality(self, x: Tensor) -> dict[str, Any]:
        """Modes recovered and the high-quality fraction (ring8, grid25), or the JSD in nats (gaussian1d)."""
        if not torch.isfinite(x).all():
            return {"modes": 0, "hq": 0.0} if self.cfg.dataset in TOY_MODES else {}
        if self.cfg.dataset in TOY_MODES:
            centres, std = TOY_MODES[self.cfg.dataset]
            st = mode_stats(x, centres, std)
            return {"modes": st["modes"], "hq": st["hq"]}
        if self.cfg.dataset == "gaussian1d":
            mu, sigma = gaussian1d_params()
            return {"JSD": jsd_1d(x, mu, sigma)}
        return {}

    # ------------------------------------------------------------------ what the page draws
    def snapshot(self) -> dict[str, Any]:
        """Copies of the weights and the counters (cheap: taken under the runner's lock)."""
        return {"g": [p.detach().clone() for p in self.net.g_params],
                "d": [p.detach().clone() for p in self.net.d_params],
                "step": self.step_count, "cfg": self.cfg, "loss": self.loss, "quality": dict(self.quality),
                "history": list(self.history), "findings": list(self.findings)}

    def render(self, snap: dict[str, Any]) -> dict[str, Any]:
        """Generated samples, D over the plane (or line), G's gradient on its samples: what the lab page redraws.
        The real points do not change between resets: `real_points` gives them once."""
        net, loss = self.net, snap["loss"]
        with torch.no_grad():
            fake = net.G(self.eval_z[:, :VIEW_N], snap["g"])[0]  # [VIEW_N, dim]
        real = self.view_real
        # G's gradient at its samples: the direction G's loss pushes each point (minus its gradient)
        x = fake[:ARROWS].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss.g_loss(net.D(x[None], snap["d"])), x)
        push = -grad  # [ARROWS, dim]
        out: dict[str, Any] = {"dim": self.dim, "probabilistic": loss.probabilistic}
        if self.dim == 1:
            out.update(self._render_1d(snap, real, fake))
        else:
            out.update(self._render_2d(snap, real, fake))
        ok = torch.isfinite(fake[:ARROWS]).all(1) & torch.isfinite(push).all(1)
        out["arrows"] = np.concatenate([_np(fake[:ARROWS][ok], 3), _np(push[ok], 8)], 1).tolist()
        return out

    def real_points(self) -> list[list[float]]:
        return _rounded(self.view_real)

    def _d_values(self, pts: Tensor, d: list[Tensor], probabilistic: bool) -> Tensor:
        """D at each point [M, dim] -> [M]: the probability for cross-entropy losses, else the raw score.
        A packed D (PacGAN) is shown on packs of copies of the point."""
        m = self.net.pack
        x = pts.repeat_interleave(m, dim=0)[None] if m > 1 else pts[None]
        # minibatch features compare each input with its batch (cost N^2): grid points go in batches of a
        # training batch's size, as D sees them in training
        chunk = self.cfg.batch_size * m if self.net.mbd else x.shape[1]
        with torch.no_grad():
            v = torch.cat([self.net.D(x[:, i:i + chunk], d)[0] for i in range(0, x.shape[1], chunk)])
        return torch.sigmoid(v) if probabilistic else v

    def _render_2d(self, snap: dict[str, Any], real: Tensor, fake: Tensor) -> dict[str, Any]:
        lim = _view_limit(self.cfg, real)
        axis = torch.linspace(-lim, lim, HEAT)
        gy, gx = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # row 0 at the top (largest y)
        grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # [HEAT*HEAT, 2]
        v = self._d_values(grid, snap["d"], snap["loss"].probabilistic)
        lo, hi = (0.0, 1.0) if snap["loss"].probabilistic else (float(v.min()), float(v.max()))
        v, lo, hi = torch.nan_to_num(v, nan=0.5), _finite(lo), _finite(hi)
        heat = ((v - lo) / max(hi - lo, 1e-12)).clamp(0, 1).mul(255).round().to(torch.uint8)
        return {"lim": lim, "heat": base64.b64encode(heat.numpy().tobytes()).decode(), "heat_n": HEAT,
                "heat_range": [lo, hi], "fake": _rounded(fake)}  # heat: HEAT*HEAT bytes, row 0 at the top

    def _render_1d(self, snap: dict[str, Any], real: Tensor, fake: Tensor) -> dict[str, Any]:
        with torch.no_grad():
            g_all = self.net.G(self.eval_z, snap["g"])[0, :, 0].double()  # [EVAL_N]
        mu, sigma = gaussian1d_params()
        finite = g_all[torch.isfinite(g_all)]
        lo = min(mu - 4 * sigma, float(finite.quantile(0.005)) if len(finite) else mu)
        hi = max(mu + 4 * sigma, float(finite.quantile(0.995)) if len(finite) else mu)
        pad = 0.1 * (hi - lo)
        xs = torch.linspace(lo - pad, hi + pad, 6 * HEAT, dtype=torch.float64)
        p_data = torch.exp(-0.5 * ((xs - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        p_g = _kde(finite, xs)
        t = 1.0 - snap["cfg"].label_smoothing  # one-sided smoothing: D* = t p_data / (p_data + p_g)
        d_star = t * p_data / (p_data + p_g).clamp_min(1e-300)
        dx = self._d_values(xs.float()[:, None], snap["d"], snap["loss"].probabilistic).double()
        return {"xs": _r(xs), "d": _r(dx), "d_star": _r(d_star), "p_data": _r(p_data), "p_g": _r(p_g),
                "fake": _rounded(fake)}


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def _kde(samples: Tensor, xs: Tensor) -> Tensor:
    """Gaussian kernel density of samples [n] at xs [M] (Silverman's bandwidth).  # [M]"""
    if len(samples) < 2:
        return torch.zeros_like(xs)
    h = max(1.06 * float(samples.std()) * len(samples) ** -0.2, 1e-3)
    z = (xs[:, None] - samples[None, :]) / h
    return torch.exp(-0.5 * z * z).sum(1) / (len(samples) * h * math.sqrt(2 * math.pi))


def _view_limit(cfg: LabConfig, real: Tensor) -> float:
    if cfg.dataset == "grid25":
        return 5.5
    if cfg.dataset == "ring8":
        return 3.0
    return max(2.5, float(real.abs().max()) * 1.2)


def _np(x: Tensor, decimals: int) -> np.ndarray:
    """Rounded float64 numbers; NaN becomes 0 and infinities +-1e6 (JSON has neither)."""
    return np.round(np.nan_to_num(x.detach().numpy().astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6), decimals)


def _r(t: Tensor) -> list[float]:
    return _np(t, 5).tolist()


def _rounded(x: Tensor) -> list[list[float]]:
    """Points as short JSON (3 decimals: far below a pixel); non-finite ones (a diverged G) are dropped."""
    return _np(x[torch.isfinite(x).all(1)], 3).tolist()


@dataclass
class _Speed:
    """Steps per second over the last second of training."""

    t0: float = field(default_factory=time.perf_counter)
    steps: int = 0
    rate: float = 0.0

    def tick(self) -> None:
        self.steps += 1
        now = time.perf_counter()
        if now - self.t0 >= 1.0:
            self.rate = self.steps / (now - self.t0)
            self.t0, self.steps = now, 0


class LabRunner:
    """The lab's trainer in a daemon thread: start, pause, step, reset and live changes, each under one lock."""

    def __init__(self, cfg: LabConfig | None = None) -> None:
        self.lock = threading.Lock()
        self.trainer = LabTrainer(cfg or LabConfig())
        self.running = False
        self.error: str | None = None
        self.speed = _Speed()
        self.total_steps = 0  # over resets: the bench reads it
        self._waiting = 0  # requests queued for the lock: the thread yields to them between steps
        self._wake = threading.Event()
        self._closed = False
        self.resets = 0  # identifies the trainer (and its real data) the page draws
        self._frame: tuple[float, int, int, LabConfig, bytes] | None = None  # time, resets, step, cfg, JSON
        self._watched_until = 0.0  # a page polled recently: the thread keeps drawing frames until then
        self.thread = threading.Thread(target=self._loop, name="gankit-studio-lab", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._closed:
            if not self.running:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            with self.lock:
                if self.running:
                    self._one_step()
                    # a watched lab draws its frames here, between steps: drawing in the request's thread would
                    # make the two threads trade the GIL on every torch call of the step
                    now = time.monotonic()
                    if now < self._watched_until and (self._frame is None or now - self._frame[0] >= FRAME_EVERY_S):
                        self._draw()
            if self._waiting:
                time.sleep(0.0005)  # a plain lock is not fair: let a waiting request in

    def _one_step(self) -> None:
        t = self.trainer
        try:
            t.step()
        except (RuntimeError, ValueError, ConfigError) as e:  # a diverged net, an objective that fails
            self.running, self.error = False, f"training stopped at step {t.step_count}: {e}"
            return
        self.speed.tick()
        self.total_steps += 1
        if t.step_count >= MAX_STEPS or any(f["event"] == "non_finite" for f in t.findings[-1:]):
            self.running = False  # nothing left to learn from a NaN run, and a forgotten tab must stop

    def _locked(self) -> Any:
        runner = self

        class _Held:
            def __enter__(self) -> None:
                runner._waiting += 1
                runner.lock.acquire()
                runner._waiting -= 1

            def __exit__(self, *exc: Any) -> None:
                runner.lock.release()

        return _Held()

    def start(self) -> None:
        with self._locked():
            self.running, self.error = True, None
            self.speed = _Speed()
        self._wake.set()

    def pause(self) -> None:
        with self._locked():
            self.running = False

    def step(self, n: int) -> None:
        """Pause, then train exactly n steps."""
        with self._locked():
            self.running = False
            for _ in range(n):
                self._one_step()

    def reset(self, cfg: LabConfig) -> None:
        """A new trainer from `cfg` (built before the lock: a refused config leaves the running one alone)."""
        fresh = LabTrainer(cfg)
        with self._locked():
            self.trainer, self.running, self.error = fresh, False, None
            self.resets += 1

    def update(self, body: Any) -> LabConfig:
        """Change the live settings; the next step trains with them."""
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        fixed = sorted(k for k in body if k not in LIVE_KEYS)
        if fixed:
            raise RequestError(f"{fixed[0]!r} cannot change while training (reset with it); live: "
                               f"{', '.join(LIVE_KEYS)}")
        with self._locked():
            cfg = parse_config(body, self.trainer.cfg)  # checked against the current settings, under the lock
            self.trainer.apply({k: getattr(cfg, k) for k in body})
            return self.trainer.cfg

    def status(self) -> dict[str, Any]:
        """Running or not, the trainer's step, the steps trained since the server started and the current rate."""
        with self._locked():
            return {"running": self.running, "step": self.trainer.step_count, "total_steps": self.total_steps,
                    "steps_per_s": round(self.speed.rate, 1) if self.running else 0.0, "error": self.error}

    def _draw(self) -> bytes:
        """Draw the current trainer's frame as JSON bytes and keep it (call with the lock held)."""
        t = self.trainer
        frame = json.dumps(t.render(t.snapshot()), separators=(",", ":")).encode()
        self._frame = (time.monotonic(), self.resets, t.step_count, t.cfg, frame)
        return frame

    def state_json(self, since: int = -1, real: bool = False) -> bytes:
        """The page's state as JSON bytes: status, settings, history rows after step `since`, findings, quality,
        the frame (the real points too when `real`). While training runs, the thread draws a frame every
        FRAME_EVERY_S for as long as someone polls (WATCH_S) and a request takes the newest; a paused lab's
        frame is drawn on request, once per step and setting."""
        self._watched_until = time.monotonic() + WATCH_S
        with self._locked():
            t = self.trainer
            cached = self._frame
            usable = (cached is not None and cached[1] == self.resets and cached[3] == t.cfg
                      and (cached[2] == t.step_count or self.running))
            frame = cached[4] if usable and cached is not None else self._draw()
            frame_step = self._frame[2] if self._frame is not None else -1
            settings = asdict(t.cfg)
            settings.pop("points")
            head: dict[str, Any] = {
                "status": {"running": self.running, "step": t.step_count, "error": self.error, "data_id": self.resets,
                           "frame_step": frame_step,
                           "steps_per_s": round(self.speed.rate, 1) if self.running else 0.0},
                "settings": settings, "n_points": len(t.cfg.points), "quality": dict(t.quality),
                "history": [r for r in t.history if r["step"] > since], "findings": t.findings[-50:]}
            if real:
                head["real"] = t.real_points()
        text = json.dumps(head, separators=(",", ":")).encode()
        return text[:-1] + b',"frame":' + frame + b"}"

    def close(self) -> None:
        self._closed = True
        self.running = False
        self._wake.set()
        self.thread.join(timeout=5)


def options() -> dict[str, Any]:
    """The choices and bounds the lab page offers (the server enforces the same)."""
    return {"datasets": list(LAB_DATA), "tricks": list(TRICKS), "losses": list(LOSS_NAMES),
            "limits": {k: list(v) for k, v in LIMITS.items()}, "defaults": asdict(LabConfig())}
