"""The training loop: a method's phases, step after step, with everything else on hooks.

The loop owns the optimizers, zero_grad / backward / clip / step, the EMA copy, the seeded random stream, DDP
wrapping and the log; a method (gankit.methods) says what each phase computes, and never which loop runs it.
One step reads top to bottom (after NVlabs' stylegan2-ada training loop and nanoGPT's train.py): set the
learning rates -> each phase, each repeat: fetch a batch, the method's loss, backward, clip, step -> EMA ->
log -> snapshot and checkpoint (hooks). Every random draw comes from one `torch.Generator` whose state is
checkpointed, and the data order is a pure function of (seed, epoch), so a resumed run continues bit for bit.

Under torchrun (gankit.distributed) each of N ranks runs this same loop on its rows of every global batch: the
random draws are made for the full batch from the shared stream and sliced, the trained networks are wrapped in
DistributedDataParallel for their own updates, and only rank 0 writes the run directory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import checkpoint as ckpt
from .. import distributed as dist_
from ..config import TrainConfig
from ..data import Dataset
from ..data.transforms import as_float
from ..distributed import BatchShard, DistContext
from ..errors import ConfigError, GankitError
from ..methods import Batch, Draws, Method, Phase, StepContext
from ..regularizers import ema_update
from ..rundir import RunDir
from ..stats import Stats, all_finite
from ..torch_utils import grad_norm
from . import hooks as H
from .state import TrainState


class TrainingDiverged(GankitError):
    """A loss or statistic became NaN/inf; the run stops and its last good checkpoint is left as it was."""

    exit_code = 3


class NonFinite(Exception):
    """Raised out of a step whose log row holds NaN/inf; the outer loop rolls back or stops."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__("non-finite values")
        self.row = row


@dataclass
class RunResult:
    out: Path
    step: int
    checkpoint: Path
    last_metrics: dict[str, Any] = field(default_factory=dict)


class EpochSampler:
    """Batches of indices: epoch e is a permutation seeded by (seed, e); incomplete last batches are dropped.

    Stateless given the global batch number, so resuming needs no iterator state (and sharding by rank is a
    slice of the same permutation)."""

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


class Batches:
    """This rank's rows of real batch number k, as floats (uint8 pixels are converted per batch)."""

    def __init__(self, cfg: TrainConfig, data: Dataset, shard: BatchShard, device: torch.device) -> None:
        self.x = data.x.to(device)  # [N, *sample_shape]
        if cfg.channels_last and data.is_image:  # batches gathered from it keep the NHWC layout
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = data.y.to(device) if data.y is not None else None
        self.shard = shard
        self.sampler = EpochSampler(len(data), cfg.batch_size, cfg.seed, device)

    def __call__(self, k: int) -> Batch:
        idx = self.shard.rows(self.sampler.indices(k))
        return Batch(as_float(self.x[idx]), self.y[idx] if self.y is not None else None)


@dataclass
class Run:
    """Everything the step and the hooks share."""

    cfg: TrainConfig
    dir: RunDir
    method: Method
    data: Dataset
    state: TrainState
    ctx: DistContext
    resumed: bool
    fixed: tuple[Any, ...] = ()  # the method's fixed sampling inputs (e.g. z and labels)
    grid_nrow: int = 0
    last_ckpt: Path | None = None
    elapsed_before: float = 0.0
    lrs: dict[str, float] = field(default_factory=dict)
    postfix: dict[str, str] = field(default_factory=dict)
    t_start: float = field(default_factory=time.perf_counter)
    t_interval: float = field(default_factory=time.perf_counter)
    steps_interval: int = 0

    @property
    def sampling_net(self) -> nn.Module:
        name = self.method.sampler
        return self.state.ema.get(f"{name}_ema", self.state.nets[name])

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t_start

    def restart_interval(self) -> None:
        self.t_interval = time.perf_counter()

    def is_eval_step(self, step: int) -> bool:
        # from the config, not from the evaluator (rank 0's alone): every rank must agree on the log steps
        return self.cfg.eval_every > 0 and (step % self.cfg.eval_every == 0 or step == self.cfg.steps)

    def is_log_step(self, step: int) -> bool:
        c = self.cfg
        return step % c.log_every == 0 or step % c.ckpt_every == 0 or step == c.steps or self.is_eval_step(step)

    def is_sample_step(self) -> bool:
        step = self.state.step
        return step % self.cfg.sample_every == 0 or step == self.cfg.steps


class Stepper:
    """One training step of `run.method`: the phases in order, each repeat an optimizer update."""

    def __init__(self, run: Run, hooks: list[H.Hook], batches: Batches, shard: BatchShard) -> None:
        cfg, ctx, state = run.cfg, run.ctx, run.state
        self.run, self.hooks, self.batches = run, hooks, batches
        self.phases: list[Phase] = run.method.phases()
        self.batches_per_step = sum(p.repeats for p in self.phases if p.takes_batch)
        self.groups = run.method.optimizers()
        self.params = {g: [p for n in group.networks for p in state.nets[n].parameters()]
                       for g, group in self.groups.items()}
        # the parameters each trained network learns (a user's module may hold some frozen for good)
        self.learns = {n: [p for p in state.nets[n].parameters() if p.requires_grad]
                       for n in dict.fromkeys(n for g in self.groups.values() for n in g.networks)}
        self.frozen: set[str] = set()  # the networks whose parameters are frozen now
        # each event's hooks, those that act on it only: the per-step cost of a do-nothing hook is not paid
        self.on = {event: [h for h in hooks if getattr(type(h), event) is not getattr(H.Hook, event)]
                   for event in ("on_step_begin", "on_measure", "on_log", "on_step_end")}
        # DDP around the forwards whose backward updates the wrapped net's own weights; every other forward
        # (under no_grad, or through frozen weights) and the penalties use the plain module
        self.train_fwd = {n: dist_.wrap(net, ctx) for n, net in state.nets.items()}
        self.frozen_fwd: dict[str, Any] = dict(state.nets)
        if cfg.compile:  # single process (checked in train), so DDP is not in play: one compiled module each,
            # for the training forwards only; snapshots, probes and penalties call the plain modules
            for n, net in state.nets.items():
                self.train_fwd[n] = self.frozen_fwd[n] = torch.compile(net)
        self.draws = Draws(state.gen, shard, ctx.device, cfg.prior)
        self.stats = Stats()
        self.grad_norms: dict[str, torch.Tensor | None] = {}

    def __call__(self) -> None:
        run, cfg, state, method = self.run, self.run.cfg, self.run.state, self.run.method
        step = state.step
        log_step = run.is_log_step(step + 1)

        # --- learning rates and the method's knobs for this step (hooks may adjust both)
        f = 1.0 - step / cfg.steps if cfg.lr_decay else 1.0
        run.lrs = {name: group.lr * f for name, group in self.groups.items()}
        method.begin_step(step)
        for hook in self.on["on_step_begin"]:
            hook.on_step_begin(run)
        for name, opt in state.opts.items():
            for group in opt.param_groups:
                group["lr"] = run.lrs[name]

        # --- the method's phases: each repeat is one optimizer update on the phase's loss
        k = 0  # real batches fetched so far this step
        for phase in self.phases:
            self._freeze(set(phase.frozen))
            opt, params = state.opts[phase.optimizer], self.params[phase.optimizer]
            for j in range(phase.repeats):
                batch = None
                if phase.takes_batch:
                    batch = self.batches(step * self.batches_per_step + k)
                    k += 1
                ctx = StepContext(step, j, state.nets, self.train_fwd, self.frozen_fwd, self.draws, self.stats)
                loss = method.loss(phase, batch, ctx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    self.grad_norms[phase.optimizer] = nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
                elif log_step and j == phase.repeats - 1:  # only a log step reports it
                    self.grad_norms[phase.optimizer] = grad_norm(params)
                opt.step()

        # --- EMA of the sampling network's weights, warmed up so early snapshots are not the random init
        for name, ema in state.ema.items():
            ema_update(ema, state.nets[name.removesuffix("_ema")], min(cfg.ema, (1.0 + step) / (10.0 + step)))
        state.step = step = step + 1
        run.steps_interval += 1

        # --- log: the interval's means, measured, checked for NaN/inf, then written
        if log_step:
            now = time.perf_counter()
            row = {"step": step, "epoch": step * self.batches_per_step // self.batches.sampler.per_epoch,
                   "time_s": round(run.elapsed_before + now - run.t_start, 3),
                   **dist_.mean_across_ranks(self.stats.reduce(), run.ctx),  # the global batch's means
                   **{f"GradNorm/{n}": _as_float(self.grad_norms.get(n)) for n in self.groups},
                   **{f"lr/{n}": lr for n, lr in run.lrs.items()},
                   **{n: v for n, v in method.knobs.items() if isinstance(v, (int, float))},
                   "it_per_s": run.steps_interval / max(now - run.t_interval, 1e-9)}
            run.t_interval, run.steps_interval = now, 0
            for hook in self.on["on_measure"]:
                hook.on_measure(run, row)
            if not all_finite(row):
                raise NonFinite(row)
            for hook in self.on["on_log"]:
                hook.on_log(run, row)
            self.last_row = row

        # --- snapshot and checkpoint
        for hook in self.on["on_step_end"]:
            hook.on_step_end(run)

    def _freeze(self, frozen: set[str]) -> None:
        """requires_grad off for the phase's frozen networks, on for the other trained ones (changes only)."""
        for name, params in self.learns.items():
            if (name in frozen) != (name in self.frozen):
                for p in params:
                    p.requires_grad_(name not in frozen)
        self.frozen = frozen


def train(cfg: TrainConfig, *, data: Dataset, method: Method, resume: bool = False) -> RunResult:
    """Train `method` on `data` as `cfg` (resolved) says and write the run directory `cfg.out`; gankit.train is
    the public form, which loads the data and builds the method.

    With `resume=True`, continue from the newest checkpoint in `cfg.out`. Under torchrun with several ranks this
    joins the process group (gloo on CPU, nccl on GPU) and trains with DistributedDataParallel; `batch_size` is
    the global batch, split evenly over the ranks."""
    ctx = dist_.setup(cfg.device)
    try:
        return _train(cfg, resume, ctx, data, method)
    except GankitError:
        raise
    except Exception as e:
        if not (ctx.enabled and dist_.is_peer_failure(e)):
            raise
        done = ckpt.list_checkpoints(cfg.out)
        where = f"the newest checkpoint is {done[-1][1]}" if done else "no checkpoint was written yet"
        raise dist_.PeerFailure(f"rank {ctx.rank} of {ctx.world_size} lost contact with another rank "
                                f"({dist_._first_line(e)}); the job stops, {where}; continue it with "
                                f"torchrun ... -m gankit train --resume {cfg.out}") from None
    finally:
        dist_.teardown(ctx)


def _train(cfg: TrainConfig, resume: bool, ctx: DistContext, data: Dataset, method: Method) -> RunResult:
    from .interrupts import SignalStop, checkpoint_and_stop
    from .state import init_state

    run_dir, device, main = RunDir(Path(cfg.out)), ctx.device, ctx.is_main
    # --- everything is checked and built before the run directory is touched
    if ctx.enabled and cfg.compile:
        raise ConfigError("--compile runs in a single process only; drop it when training on several ranks")
    if ctx.enabled and cfg.auto_remedy:
        raise ConfigError("--auto-remedy runs in a single process only (its roll-back reloads checkpoints and "
                          "rewrites metrics.jsonl); drop it when training on several ranks")
    if cfg.tensorboard:
        from .. import tensorboard

        tensorboard.require()  # a missing package is a one-line error
    shard = BatchShard(cfg.batch_size, ctx.rank, ctx.world_size)  # refuses a batch that does not split evenly
    method.check(shard)
    state = init_state(cfg, method, data, device)
    if ctx.enabled and cfg.sync_bn:  # after init_state: the EMA copy stays plain BatchNorm; parameters are kept
        for name in list(state.nets):
            state.nets[name] = dist_.convert_sync_batchnorm(state.nets[name], ctx)
        state.modules.update(state.nets)
    evaluator = None
    if cfg.eval_every:
        from ..evaluation.during import TrainingEvaluator

        evaluator = dist_.on_rank0(ctx, lambda: TrainingEvaluator(cfg, data))
    run = Run(cfg, run_dir, method, data, state, ctx, resume)
    run.fixed, run.grid_nrow = method.fixed_inputs(state.nets, device)

    # one writer per run folder, from before anything is written to the end (rank 0 writes it)
    lock = dist_.on_rank0(ctx, lambda: run_dir.lock(fresh=not resume))
    try:
        if resume:  # rank 0 reads the checkpoint and hands it to the others: no shared file system needed
            def read() -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
                # the newest checkpoint that is whole and holds the full state; damaged newer ones are set aside
                return ckpt.load_newest_good(run_dir.root, state.verify)

            path, tensors, meta = dist_.on_rank0(ctx, read, share=True)  # type: ignore[misc]
            state.unpack(tensors, meta, path)
            del tensors
            run.elapsed_before, run.last_ckpt = float(meta.get("elapsed_s", 0.0)), path
            if state.step >= cfg.steps:
                if main:
                    print(f"gankit: {run_dir.root} is already at step {state.step} >= --steps {cfg.steps}; nothing "
                          "to do")
                return RunResult(run_dir.root, state.step, path, {})
        if ctx.enabled:  # rank-local randomness (none in the loop today) gets its own stream per rank
            torch.manual_seed(dist_.rank_seed(cfg.seed, ctx.rank) + state.step)

        hooks = _hooks(run, evaluator)
        step_once = Stepper(run, hooks, Batches(cfg, data, shard, device), shard)
        if main:  # once the run (a resume: its checkpoint and hooks) is known good, so a failed start keeps it
            run_dir.samples.mkdir(parents=True, exist_ok=True)
            run_dir.write_config(cfg.to_json() + "\n")
            ckpt.remove_stale_temps(run_dir.root)  # each as large as a checkpoint, left by killed writes
        for net in state.nets.values():
            net.train()
        stop = SignalStop() if ctx.enabled else SignalStop().install()  # torchrun: each rank as before
        try:
            while state.step < cfg.steps:
                try:
                    step_once()
                except NonFinite as e:  # roll back to a checkpoint a hook offers, else stop
                    _recover(run, hooks, step_once, e.row)
                if stop.signum is not None and state.step < cfg.steps:  # SIGINT/SIGTERM: checkpoint, then stop
                    checkpoint_and_stop(run, hooks, lambda row: _recover(run, hooks, step_once, row), stop.signum)
        finally:
            stop.restore()
            for hook in hooks:
                hook.on_end(run)

        if main:
            run_dir.finish()
            ranks = f" on {ctx.world_size} ranks" if ctx.enabled else ""
            print(f"gankit: trained {type(method).label(cfg.model, cfg.loss)} on {cfg.dataset} for {state.step} "
                  f"steps{ranks}; outputs in {run_dir.root}/ (samples/, progress.gif, losses.png, metrics.jsonl, "
                  f"checkpoints/{run.last_ckpt.name if run.last_ckpt else ''})")
        assert run.last_ckpt is not None
        return RunResult(run_dir.root, state.step, run.last_ckpt, getattr(step_once, "last_row", {}))
    finally:
        if lock is not None:
            lock.release()


def _hooks(run: Run, evaluator: Any) -> list[H.Hook]:
    """The hooks of this run, in the order they run: measure, score, write, show, snapshot, checkpoint."""
    cfg, main = run.cfg, run.ctx.is_main
    hooks: list[H.Hook] = []
    if cfg.health:
        hooks.append(H.HealthWatch(run))
    if evaluator is not None:
        hooks.append(H.Evaluate(evaluator))
    if main:
        hooks.append(H.MetricsLog(run.dir.metrics, run.state.step if run.resumed else None))
        hooks.append(H.Snapshots())
        if cfg.tensorboard:
            hooks.append(H.TensorBoard(run))
    hooks.append(H.Progress(run))
    hooks.append(H.Checkpoints())
    return hooks


def _recover(run: Run, hooks: list[H.Hook], stepper: Stepper, row: dict[str, Any]) -> None:
    target = next((p for p in (h.recovery(run, row) for h in hooks) if p is not None), None)
    if target is None:
        bad = ", ".join(k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v))
        keep = (f"the last good checkpoint is {run.last_ckpt}" if run.last_ckpt else "no checkpoint was written")
        raise TrainingDiverged(
            f"non-finite values at step {row['step']} ({bad}); training stopped and {keep}. Try a lower learning "
            "rate, --grad-clip, or a more stable loss (nonsaturating, hinge, wgan-gp)")
    run.state.unpack(*ckpt.load(target), target)
    stepper.stats.reduce()  # drop what the abandoned interval accumulated
    for hook in hooks:
        hook.on_rollback(run, row, run.state.step)


def _as_float(v: torch.Tensor | None) -> float | None:
    return None if v is None else float(v)

