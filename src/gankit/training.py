"""The training loop: Algorithm 1 of Goodfellow et al. (2014) with the practitioners' tricks as explicit options.

The loop owns the optimizers, the backward passes and every random draw; losses are pure functions and models
are plain modules. One training step reads top to bottom as stages (after NVlabs' stylegan2-ada loop):
fetch batch -> D phase (k times) -> G phase -> EMA -> log -> snapshot. Every random draw comes from one
`torch.Generator` whose state is checkpointed, and the data order is a pure function of (seed, epoch), so a
run resumed from a checkpoint continues bit for bit.

Under torchrun (gankit.distributed) each of N ranks runs this same loop on its rows of every global batch: the
random draws are made for the full batch from the shared stream and sliced (`shard.rows`), G and D are wrapped in
DistributedDataParallel for their own updates, and only rank 0 writes the run directory.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint as ckpt
from . import distributed as dist_
from .config import TrainConfig
from .data import Dataset, load_dataset
from .data.transforms import as_float
from .errors import ConfigError, GankitError
from .losses import Loss, get_loss
from .models import build_models
from .distributed import BatchShard, DistContext, PeerFailure
from .regularizers import (add_instance_noise, ema_update, gradient_penalty, instance_noise_std, mode_seeking_loss,
                           r1_penalty)
from .stats import JsonlWriter, Stats, all_finite, read_jsonl



class TrainingDiverged(GankitError):
    """A loss or statistic became NaN/inf; the run stops and its last good checkpoint is left as it was."""


@dataclass
class RunResult:
    out: Path
    step: int
    checkpoint: Path
    last_metrics: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- set-up
def load_training_data(cfg: TrainConfig) -> Dataset:
    data = load_dataset(cfg.dataset, split="train", data_dir=cfg.data_dir, image_size=cfg.image_size,
                        channels=cfg.channels, seed=cfg.seed, toy_options=cfg.toy_options or None, compact=True)
    if cfg.conditional and data.num_classes == 0:
        raise ConfigError(f"--conditional needs a labelled data set; {cfg.dataset!r} has no labels")
    if len(data) < cfg.batch_size:
        raise ConfigError(f"data set {cfg.dataset!r} has {len(data)} samples, fewer than batch size {cfg.batch_size}")
    return data


def build_networks(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as the config describes; `gankit.load` rebuilds G from a checkpoint the same way."""
    cfg = cfg.resolved()
    return build_models(cfg.model, data_shape=tuple(data_shape), z_dim=cfg.z_dim,
                        num_classes=num_classes if cfg.conditional else 0, cond_d=cfg.cond_d, width=cfg.width,
                        d_width=cfg.d_width, depth=cfg.depth)


def sample_prior(prior: str, n: int, z_dim: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """z ~ N(0, I) or U[-1, 1]^z_dim.  # [n, z_dim]"""
    if prior == "gaussian":
        return torch.randn(n, z_dim, generator=gen, device=device)
    return torch.rand(n, z_dim, generator=gen, device=device).mul_(2).sub_(1)


def make_optimizer(params: Any, lr: float, cfg: TrainConfig) -> torch.optim.Adam:
    # foreach: one kernel per group of tensors instead of a Python loop over parameters.
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), foreach=True)


class EpochSampler:
    """Batches of indices: epoch e is a permutation seeded by (seed, e); incomplete last batches are dropped.

    Stateless given the global batch number, so resuming needs no iterator state (and sharding by rank later is
    a slice of the same permutation).
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device) -> None:
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.per_epoch = n // batch_size
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def indices(self, batch_number: int) -> torch.Tensor:
        epoch, i = divmod(batch_number, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=g).to(self.device)
            self._epoch = epoch
        return self._perm[i * self.batch_size:(i + 1) * self.batch_size]


def lr_factor(cfg: TrainConfig, step: int) -> float:
    return 1.0 - step / cfg.steps if cfg.lr_decay else 1.0


def fixed_sample_inputs(cfg: TrainConfig, z_dim: int, num_classes: int, is_image: bool,
                        device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """The noise (and labels) behind every samples/step_*.png: drawn from their own seed, never from the
    training stream, so snapshots do not perturb training. Conditional grids get one row per class."""
    g = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
    if not is_image:
        n = max(cfg.n_samples, 2000)  # a scatter plot needs many points
        labels = torch.arange(n, device=device) % num_classes if cfg.conditional and num_classes else None
        return sample_prior(cfg.prior, n, z_dim, g, device), labels, 0
    if cfg.conditional and num_classes:
        per_class = max(1, cfg.n_samples // num_classes)
        labels = torch.arange(num_classes, device=device).repeat_interleave(per_class)
        return sample_prior(cfg.prior, len(labels), z_dim, g, device), labels, per_class
    return sample_prior(cfg.prior, cfg.n_samples, z_dim, g, device), None, 0


# ---------------------------------------------------------------------------------------------------- state
@dataclass
class TrainState:
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    gen: torch.Generator  # every random draw of training (z, labels, GP alpha, instance noise)
    data_shape: tuple[int, ...]
    num_classes: int  # of the data set (the models are conditional only when cfg.conditional)
    class_names: list[str] | None = None
    step: int = 0

    def pack(self, cfg: TrainConfig, elapsed: float) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {**ckpt.pack_module("G", self.G), **ckpt.pack_module("D", self.D)}
        if self.G_ema is not None:
            tensors.update(ckpt.pack_module("G_ema", self.G_ema))
        tg, mg = ckpt.pack_optimizer("opt_G", self.opt_G)
        td, md = ckpt.pack_optimizer("opt_D", self.opt_D)
        tensors.update(tg)
        tensors.update(td)
        tensors["rng/train"] = self.gen.get_state()
        tensors["rng/torch_cpu"] = torch.get_rng_state()
        if torch.cuda.is_available() and self.gen.device.type == "cuda":
            tensors["rng/torch_cuda"] = torch.cuda.get_rng_state()
        meta = {"step": self.step, "config": cfg.to_dict(), "opt_G": mg, "opt_D": md, "elapsed_s": elapsed,
                "torch": torch.__version__, "has_ema": self.G_ema is not None,
                "data_shape": list(self.data_shape), "num_classes": self.num_classes,
                "class_names": self.class_names}
        return tensors, meta

    def unpack(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
        ckpt.unpack_module("G", self.G, tensors, path)
        ckpt.unpack_module("D", self.D, tensors, path)
        if self.G_ema is not None:
            ckpt.unpack_module("G_ema", self.G_ema, tensors, path)
        ckpt.unpack_optimizer("opt_G", self.opt_G, tensors, meta["opt_G"], path)
        ckpt.unpack_optimizer("opt_D", self.opt_D, tensors, meta["opt_D"], path)
        try:
            self.gen.set_state(tensors["rng/train"])
            torch.set_rng_state(tensors["rng/torch_cpu"])
            if "rng/torch_cuda" in tensors and torch.cuda.is_available():
                torch.cuda.set_rng_state(tensors["rng/torch_cuda"])
        except (KeyError, RuntimeError) as e:
            raise ckpt.CheckpointError(f"{path}: missing or bad RNG state ({e})") from None
        self.step = int(meta["step"])


def init_state(cfg: TrainConfig, data: Dataset, device: torch.device) -> TrainState:
    torch.manual_seed(cfg.seed)  # weight initialisation draws from the global generator
    G, D = build_networks(cfg, data.sample_shape, data.num_classes)
    G, D = G.to(device), D.to(device)
    if cfg.channels_last and data.is_image:  # in place: the optimizers below see the same Parameter objects
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema else None
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    return TrainState(G, D, G_ema, make_optimizer(G.parameters(), cfg.lr_g, cfg),
                      make_optimizer(D.parameters(), cfg.lr_d, cfg), gen, tuple(data.sample_shape),
                      data.num_classes, data.class_names)


# ---------------------------------------------------------------------------------------------------- the loop
def train(cfg: TrainConfig, *, resume: bool = False) -> RunResult:
    """Train G and D as `cfg` says and write the run directory `cfg.out`.

    With `resume=True`, continue from the newest checkpoint in `cfg.out` (the config must match the run's,
    except `steps`, which may grow, and bookkeeping such as `progress`). Under torchrun with several ranks this
    joins the process group (gloo on CPU, nccl on GPU) and trains with DistributedDataParallel; `batch_size` is
    the global batch, split evenly over the ranks.
    """
    cfg = cfg.resolved()  # a no-op for a resumed run, whose config.json is already resolved
    ctx = dist_.setup(cfg.device)
    try:
        return _train(cfg, resume, ctx)
    except GankitError:
        raise
    except Exception as e:
        if not (ctx.enabled and dist_.is_peer_failure(e)):
            raise
        done = ckpt.list_checkpoints(cfg.out)
        where = f"the newest checkpoint is {done[-1][1]}" if done else "no checkpoint was written yet"
        raise PeerFailure(f"rank {ctx.rank} of {ctx.world_size} lost contact with another rank "
                          f"({dist_._first_line(e)}); the job stops, {where}; continue it with "
                          f"torchrun ... -m gankit train --resume {cfg.out}") from None
    finally:
        dist_.teardown(ctx)


def _train(cfg: TrainConfig, resume: bool, ctx: DistContext) -> RunResult:
    from .viz import save_grid  # imported late: matplotlib is slow to import and only snapshots need it

    out = Path(cfg.out)
    device = ctx.device
    main = ctx.is_main  # rank 0 alone writes the run directory, logs and prints
    if ctx.enabled and cfg.compile:
        raise ConfigError("--compile runs in a single process only; drop it when training on several ranks")
    if ctx.enabled and cfg.auto_remedy:
        raise ConfigError("--auto-remedy runs in a single process only (its roll-back reloads checkpoints and "
                          "rewrites metrics.jsonl); drop it when training on several ranks")
    if cfg.tensorboard:
        from . import tensorboard

        tensorboard.require()  # before anything is written: a missing package is a one-line error
    data = load_training_data(cfg)
    shard = BatchShard(cfg.batch_size, ctx.rank, ctx.world_size)  # refuses a batch that does not split evenly
    if cfg.mode_seeking and shard.local_batch % 2:
        raise ConfigError(f"--mode-seeking pairs each rank's rows: the per-rank batch {shard.local_batch} must be "
                          "even")
    loss: Loss = get_loss(cfg.loss, label_smoothing=cfg.label_smoothing, lsgan_abc=tuple(cfg.lsgan_abc))
    state = init_state(cfg, data, device)
    if ctx.enabled and cfg.sync_bn:  # after init_state: G_ema stays plain BatchNorm; parameters are kept
        state.G, state.D = dist_.convert_sync_batchnorm(state.G, ctx), dist_.convert_sync_batchnorm(state.D, ctx)
    evaluator, last_eval = None, {}  # built before the run dir, so a refusal leaves nothing behind
    if cfg.eval_every:
        from .evaluation.during import TrainingEvaluator

        evaluator = dist_.on_rank0(ctx, lambda: TrainingEvaluator(cfg, data))
    G, D, G_ema, opt_G, opt_D, gen = state.G, state.D, state.G_ema, state.opt_G, state.opt_D, state.gen
    z_dim = G.z_dim
    conditional = cfg.conditional
    num_classes = data.num_classes

    elapsed_before = 0.0
    if resume:  # rank 0 reads the checkpoint and hands it to the others: no shared file system needed
        def read() -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
            p = ckpt.latest_checkpoint(out)
            return (p, *ckpt.load(p))

        path, tensors, meta = dist_.on_rank0(ctx, read, share=True)  # type: ignore[misc]
        state.unpack(tensors, meta, path)
        del tensors
        elapsed_before = float(meta.get("elapsed_s", 0.0))
        if state.step >= cfg.steps:
            if main:
                print(f"gankit: {out} is already at step {state.step} >= --steps {cfg.steps}; nothing to do")
            return RunResult(out, state.step, path, {})
    else:
        dist_.on_rank0(ctx, lambda: _prepare_fresh_run_dir(out))
    if main:
        (out / "samples").mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.to_json() + "\n")
    if ctx.enabled:  # rank-local randomness (none in the loop today) gets its own stream per rank
        torch.manual_seed(dist_.rank_seed(cfg.seed, ctx.rank) + state.step)

    x_all = data.x.to(device)  # [N, *sample_shape], whole data set in memory
    if cfg.channels_last and data.is_image:  # batches gathered from it keep the NHWC layout
        x_all = x_all.contiguous(memory_format=torch.channels_last)
    y_all = data.y.to(device) if (conditional and data.y is not None) else None
    sampler = EpochSampler(len(data), cfg.batch_size, cfg.seed, device)
    fixed_z, fixed_y, grid_nrow = fixed_sample_inputs(cfg, z_dim, num_classes, data.is_image, device)
    log = (JsonlWriter(out / "metrics.jsonl", truncate_after_step=state.step if resume else None) if main
           else _NoLog())
    tb = None
    if cfg.tensorboard and main:
        from .tensorboard import TensorBoardWriter

        tb = TensorBoardWriter(out / "tensorboard", purge_step=state.step if resume else None)
    stats = Stats()
    # --- health hook (gankit.health): findings into metrics rows as "events"; --auto-remedy adjusts lr/noise/loss
    health, remedy = None, None
    if cfg.health:
        from .health import HealthHook, grad_norm

        with torch.random.fork_rng(devices=[]):  # building its classifier draws from the global RNG, which a
            # resumed run has just restored: keep that state as the checkpoint left it (bit-identical resume)
            health = HealthHook(cfg, data, fixed_z, fixed_y,
                                read_jsonl(out / "metrics.jsonl") if resume else None)
        remedy = health.remedy
    B = cfg.batch_size  # the global batch; this rank computes on shard.rows(...) of it
    # DDP around the forward passes whose backward updates the wrapped net's own weights; every other forward
    # (G under no_grad in the D phase, D in the G phase, the penalties) uses the plain module.
    G_ddp, D_ddp = dist_.wrap(G, ctx), dist_.wrap(D, ctx)
    G_nograd, D_frozen = G, D  # G in the D phase (no graph), D in the G phase (weights frozen)
    if cfg.compile:  # single process (checked above), so G_ddp is G and D_ddp is D: one compiled module each,
        # for the training forwards only; snapshots, probes and penalties call the plain modules
        G_nograd = G_ddp = torch.compile(G)
        D_frozen = D_ddp = torch.compile(D)
    reuse = cfg.reuse_fake

    def draw_labels(n: int) -> torch.Tensor | None:
        if not conditional:
            return None
        return torch.randint(0, num_classes, (n,), generator=gen, device=device)

    def draw_z() -> torch.Tensor:  # every rank draws the full batch from the shared stream and keeps its rows
        return shard.rows(sample_prior(cfg.prior, B, z_dim, gen, device))  # [B / world_size, z_dim]

    def noisy(x: torch.Tensor, std: float) -> torch.Tensor:
        if not ctx.enabled or std <= 0:
            return add_instance_noise(x, std, gen)
        return x + std * shard.rows(torch.randn((B, *x.shape[1:]), generator=gen, device=x.device, dtype=x.dtype))

    pbar = _progress(cfg, state.step, enabled=main)
    t_start = time.perf_counter()
    t_interval, steps_interval = t_start, 0
    last_row: dict[str, Any] = {}
    last_ckpt = path if resume else None
    G.train()
    D.train()
    try:
        while state.step < cfg.steps:
            step = state.step
            noise_std = instance_noise_std(step, cfg.steps, cfg.instance_noise)
            f = lr_factor(cfg, step)
            lr_g, lr_d = cfg.lr_g * f, cfg.lr_d * f
            if remedy is not None:  # health hook: --auto-remedy's learning rates, instance noise and loss
                (lr_g, lr_d), noise_std = remedy.lrs(lr_g, lr_d), remedy.noise_std(step, noise_std)
                loss = remedy.loss(loss, tuple(cfg.lsgan_abc))
            for group in opt_G.param_groups:
                group["lr"] = lr_g
            for group in opt_D.param_groups:
                group["lr"] = lr_d

            # --- D phase: k discriminator updates, each on a fresh real batch (Algorithm 1, inner loop)
            D.requires_grad_(True)
            for j in range(cfg.d_steps):
                idx = shard.rows(sampler.indices(step * cfg.d_steps + j))  # fetch batch: this rank's rows
                real = as_float(x_all[idx])  # [b, *sample_shape], b = B / world_size (uint8 pixels -> [-1, 1])
                y = y_all[idx] if y_all is not None else None
                if reuse and j == cfg.d_steps - 1:  # this fake also feeds G's update: keep its graph
                    fake_g = G_ddp(draw_z(), y)
                    fake = fake_g.detach()
                else:
                    with torch.no_grad():
                        fake = G_nograd(draw_z(), y)
                real_in = noisy(real, noise_std)
                fake_in = noisy(fake, noise_std)
                real_logits, fake_logits = D_ddp(real_in, y), D_ddp(fake_in, y)  # [b], [b]
                loss_D = loss.d_loss(real_logits, fake_logits)
                if loss.uses_gradient_penalty:
                    alpha = None
                    if ctx.enabled:  # the full batch's interpolation weights, as one process draws them
                        alpha = shard.rows(torch.rand((B,) + (1,) * (real.dim() - 1), generator=gen,
                                                      device=device, dtype=real_in.dtype))
                    gp = gradient_penalty(D, real_in, fake_in, y, weight=cfg.gp_weight, generator=gen,
                                          alpha=alpha)
                    stats.add("Loss/GP", gp)
                    loss_D = loss_D + gp
                if cfg.r1 > 0:
                    r1 = r1_penalty(D, real_in, y, gamma=cfg.r1)
                    stats.add("Loss/R1", r1)
                    loss_D = loss_D + r1
                opt_D.zero_grad(set_to_none=True)
                loss_D.backward()
                gnorm_D = _clip(D, cfg.grad_clip)
                if gnorm_D is None and health is not None:  # health hook: the norm clipping would report
                    gnorm_D = grad_norm(D)
                opt_D.step()

            # --- G phase: one generator update through a frozen D (no D weight gradients computed)
            D.requires_grad_(False)
            if reuse:  # the last D update's z (and its real batch's labels), as pytorch/examples' dcgan does
                y_g, fake = y, fake_g
            else:  # fresh z and labels (Algorithm 1); with mode seeking, rows (2i, 2i+1) share a label
                y_g = draw_labels(B // 2).repeat_interleave(2) if cfg.mode_seeking and conditional else draw_labels(B)
                y_g = shard.rows(y_g) if y_g is not None else None
                z_g = draw_z()
                fake = G_ddp(z_g, y_g)
            gen_logits = D_frozen(noisy(fake, noise_std), y_g)
            loss_G = loss.g_loss(gen_logits)
            if cfg.mode_seeking:
                ms = mode_seeking_loss(fake, z_g, weight=cfg.mode_seeking)
                stats.add("Loss/MS", ms)
                loss_G = loss_G + ms
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            gnorm_G = _clip(G, cfg.grad_clip)
            if gnorm_G is None and health is not None:  # health hook
                gnorm_G = grad_norm(G)
            opt_G.step()

            # --- EMA of G's weights, warmed up so early snapshots are not dominated by the random init
            if G_ema is not None:
                ema_update(G_ema, G, min(cfg.ema, (1.0 + step) / (10.0 + step)))
            state.step = step = step + 1

            # --- log
            stats.add("Loss/D", loss_D)
            stats.add("Loss/G", loss_G)
            stats.add("Score/real", real_logits.mean())
            stats.add("Score/fake", fake_logits.mean())
            if loss.probabilistic:
                stats.add("D/real", torch.sigmoid(real_logits).mean())
                stats.add("D/fake", torch.sigmoid(fake_logits).mean())
            steps_interval += 1
            pbar.update(1)
            is_ckpt = step % cfg.ckpt_every == 0 or step == cfg.steps
            # from the config, not from `evaluator` (rank 0's alone): every rank must agree on the log steps
            is_eval = cfg.eval_every > 0 and (step % cfg.eval_every == 0 or step == cfg.steps)
            if step % cfg.log_every == 0 or is_ckpt or is_eval:
                now = time.perf_counter()
                row = {"step": step, "epoch": step * cfg.d_steps // sampler.per_epoch,
                       "time_s": round(elapsed_before + now - t_start, 3),
                       **dist_.mean_across_ranks(stats.reduce(), ctx),  # the global batch's means
                       "GradNorm/D": _as_float(gnorm_D), "GradNorm/G": _as_float(gnorm_G),
                       "lr/G": lr_g, "lr/D": lr_d, "noise_std": noise_std,
                       "it_per_s": steps_interval / max(now - t_interval, 1e-9)}
                t_interval, steps_interval = now, 0
                if health is not None:  # health hook: Health/* stats; findings and remedies as row["events"]
                    if ctx.enabled and not cfg.sync_bn:
                        dist_.broadcast_buffers(G, ctx)  # the probe runs G on every rank: the same G everywhere
                    health.observe(row, G)
                if not all_finite(row):
                    if remedy is not None and last_ckpt is not None and remedy.can_roll_back():
                        # health hook (--auto-remedy): reload the last checkpoint, lower the lrs, train on
                        state.unpack(*ckpt.load(last_ckpt), last_ckpt)
                        stats.reduce()
                        log.close()
                        log = JsonlWriter(out / "metrics.jsonl", truncate_after_step=state.step)
                        health.roll_back(row, state.step, read_jsonl(out / "metrics.jsonl"))
                        pbar.update(state.step - step)
                        continue
                    bad = ", ".join(k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v))
                    keep = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written"
                    raise TrainingDiverged(
                        f"non-finite values at step {step} ({bad}); training stopped and {keep}. Try a lower "
                        "learning rate, --grad-clip, or a more stable loss (nonsaturating, hinge, wgan-gp)")
                if is_eval and evaluator is not None:  # the sampling generator, own RNG: training unchanged
                    last_eval = evaluator(G_ema if G_ema is not None else G, step)
                    row.update(last_eval)
                    t_interval = time.perf_counter()  # evaluation time does not count against it/s
                log.write(row)
                if tb is not None:
                    tb.scalars(row, step)
                last_row = row
                pbar.set_postfix_str(_postfix({**last_eval, **row}) + (health.postfix() if health else ""),
                                     refresh=False)

            # --- snapshot: sample grid from the fixed noise, then a complete checkpoint
            if main and (step % cfg.sample_every == 0 or step == cfg.steps):
                png = out / "samples" / f"step_{step:07d}.png"
                _snapshot(png, G_ema if G_ema is not None else G, fixed_z, fixed_y, grid_nrow, data, save_grid)
                if tb is not None and png.exists():
                    tb.image_file("samples", png, step)
            if is_ckpt:  # state holds the plain modules: the weights load on any number of ranks
                if main:
                    tensors, meta = state.pack(cfg, elapsed_before + time.perf_counter() - t_start)
                    last_ckpt = ckpt.save(out / "checkpoints" / ckpt.checkpoint_name(step), tensors, meta)
                    ckpt.prune(out, cfg.keep_ckpts, protect=last_ckpt)
                else:
                    last_ckpt = out / "checkpoints" / ckpt.checkpoint_name(step)
    finally:
        pbar.close()
        log.close()
        if tb is not None:
            tb.close()

    if main:
        _finish_run(out)
        ranks = f" on {ctx.world_size} ranks" if ctx.enabled else ""
        print(f"gankit: trained {cfg.model}/{cfg.loss} on {cfg.dataset} for {state.step} steps{ranks}; outputs in "
              f"{out}/ (samples/, progress.gif, losses.png, metrics.jsonl, checkpoints/{last_ckpt.name})")
    return RunResult(out, state.step, last_ckpt, last_row)


def resume(run_dir: str | Path, *, steps: int | None = None, progress: bool | None = None) -> RunResult:
    """Continue a run from its newest checkpoint, optionally to a larger number of steps."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.from_json_file(run_dir / "config.json")
    changes: dict[str, Any] = {"out": str(run_dir)}
    if cfg.model == "mlp" and "depth" not in json.loads((run_dir / "config.json").read_text()):
        # saved before `depth` existed: keep the run's own depth, not what the recipe now resolves to
        from .models.mlp import checkpoint_depth

        changes["depth"] = checkpoint_depth(ckpt.load(ckpt.latest_checkpoint(run_dir))[0])
    if steps is not None:
        changes["steps"] = steps
    if progress is not None:
        changes["progress"] = progress
    return train(cfg.replace(**changes), resume=True)


# ---------------------------------------------------------------------------------------------------- helpers
def _prepare_fresh_run_dir(out: Path) -> None:
    if ckpt.list_checkpoints(out):
        raise ConfigError(f"{out} already holds a run; use --resume {out} to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / "metrics.jsonl", *sorted((out / "samples").glob("step_*.png"))]:
        stale.unlink(missing_ok=True)


def _clip(model: nn.Module, max_norm: float | None) -> torch.Tensor | None:
    if max_norm is None:
        return None
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm, foreach=True)


def _as_float(v: torch.Tensor | None) -> float | None:
    return None if v is None else float(v)


def _postfix(row: dict[str, Any]) -> str:
    parts = [f"D={row['Loss/D']:.3f}", f"G={row['Loss/G']:.3f}"]
    if "D/real" in row:
        parts += [f"D(x)={row['D/real']:.2f}", f"D(G(z))={row['D/fake']:.2f}"]
    parts += [f"{k[5:]}={v:.3g}" for k, v in row.items() if k.startswith("Eval/") and k != "Eval/KID"]
    return " ".join(parts)


class _NoLog:
    """The metrics writer of ranks other than 0, which write nothing."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(cfg: TrainConfig, start: int, enabled: bool = True) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and enabled), unit="step",
                dynamic_ncols=True,
                desc=f"{cfg.model}/{cfg.loss}", mininterval=0.5)


@torch.no_grad()
def _snapshot(path: Path, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, nrow: int, data: Dataset,
              save_grid: Any) -> None:
    was_training = G.training
    G.eval()
    fake = G(z, y)
    G.train(was_training)
    if data.is_image:
        save_grid(fake, path, nrow=nrow or None, scale=2 if fake.shape[-1] <= 32 else 1)
        return
    from .viz import plot_density_1d, plot_points_2d

    n = min(len(data), len(fake))
    step = int(path.stem.split("_")[1])
    if fake.shape[1] == 1:
        plot_density_1d(fake.cpu(), data.x[:n].cpu(), path, title=f"step {step}")
    elif fake.shape[1] == 2:
        plot_points_2d(fake.cpu(), data.x[:n].cpu(), path, title=f"step {step}")


def _finish_run(out: Path) -> None:
    """losses.png from metrics.jsonl and progress.gif from the sample snapshots (at most 60 frames)."""
    from .viz import plot_losses, save_gif

    rows = read_jsonl(out / "metrics.jsonl")
    if rows:
        plot_losses(rows, out / "losses.png")
    frames = sorted((out / "samples").glob("step_*.png"))
    if frames:
        stride = max(1, math.ceil(len(frames) / 60))
        chosen = frames[::stride]
        if chosen[-1] != frames[-1]:
            chosen.append(frames[-1])
        save_gif(chosen, out / "progress.gif", duration_ms=150)


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What `gankit info` prints: config, checkpoints, last metrics."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir}: not a gankit run directory (no config.json)")
    cfg = json.loads(cfg_path.read_text())
    rows = read_jsonl(run_dir / "metrics.jsonl")
    return {"run": str(run_dir), "config": cfg,
            "checkpoints": [p.name for _, p in ckpt.list_checkpoints(run_dir)],
            "last_metrics": rows[-1] if rows else None,
            "samples": len(list((run_dir / "samples").glob("step_*.png")))}
