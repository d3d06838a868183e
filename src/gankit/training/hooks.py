"""What happens around the training step: logging, the health monitor and its remedies, in-training scores,
TensorBoard, sample snapshots, checkpoints and the progress bar, each a hook on a few loop events.

Events, in the order the loop raises them (hooks run in list order):
    on_step_begin(run)          before a step: hooks may adjust `run.lrs` and the method's knobs
    on_measure(run, row)        a log step's row, before it is checked for NaN/inf: add measurements
    on_log(run, row)            the row, finite: add scores, write it, show it
    on_step_end(run)            after every step: snapshots, checkpoints
    recovery(run, row)          the row was not finite: a checkpoint to roll back to, or None
    on_rollback(run, row, to)   the loop reloaded the checkpoint at step `to`
    on_end(run)                 always, last (close files)
Only rank 0 gets the hooks that write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import checkpoint as ckpt
from .. import distributed as dist_
from .. import integrity
from ..stats import JsonlWriter, read_jsonl
from ..torch_utils import eval_mode

if TYPE_CHECKING:
    from .loop import Run


class Hook:
    def on_step_begin(self, run: "Run") -> None:
        pass

    def on_measure(self, run: "Run", row: dict[str, Any]) -> None:
        pass

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        pass

    def on_step_end(self, run: "Run") -> None:
        pass

    def recovery(self, run: "Run", row: dict[str, Any]) -> Path | None:
        return None

    def on_rollback(self, run: "Run", row: dict[str, Any], to_step: int) -> None:
        pass

    def on_end(self, run: "Run") -> None:
        pass


class MetricsLog(Hook):
    """metrics.jsonl: one row per log step; a resumed or rolled-back run drops the rows past its checkpoint."""

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        self.writer = JsonlWriter(path, truncate_after_step=resume_step)

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        self.writer.write(row)

    def on_rollback(self, run: "Run", row: dict[str, Any], to_step: int) -> None:
        self.writer.close()
        self.writer = JsonlWriter(self.path, truncate_after_step=to_step)

    def on_end(self, run: "Run") -> None:
        self.writer.close()


class HealthWatch(Hook):
    """The health monitor (gankit.health): Health/* measurements and findings as the row's events; with
    --auto-remedy its adjustments to the learning rates, the instance noise and the loss, and the roll-back on
    NaN to the last checkpoint."""

    def __init__(self, run: "Run") -> None:
        from ..health import HealthHook

        z, y = run.fixed[0], run.fixed[1] if len(run.fixed) > 1 else None
        past = read_jsonl(run.dir.metrics) if run.resumed else None
        with torch.random.fork_rng(devices=[]):  # building its classifier draws from the global RNG, which a
            # resumed run has just restored: keep that state as the checkpoint left it (bit-identical resume)
            self.health = HealthHook(run.cfg, run.data, z, y, past)
        self.remedy = self.health.remedy

    def on_step_begin(self, run: "Run") -> None:
        if self.remedy is None:
            return
        if "G" in run.lrs and "D" in run.lrs:
            run.lrs["G"], run.lrs["D"] = self.remedy.lrs(run.lrs["G"], run.lrs["D"])
        knobs = run.method.knobs
        if "noise_std" in knobs:
            knobs["noise_std"] = self.remedy.noise_std(run.state.step, knobs["noise_std"])
        if getattr(knobs.get("loss"), "name", "custom") != "custom":  # a user's own loss is left as given
            knobs["loss"] = self.remedy.loss(knobs["loss"], tuple(run.cfg.lsgan_abc))

    def on_measure(self, run: "Run", row: dict[str, Any]) -> None:
        G = run.state.nets[run.method.sampler]
        if run.ctx.enabled and not run.cfg.sync_bn:
            dist_.broadcast_buffers(G, run.ctx)  # the probe runs G on every rank: the same G everywhere
        self.health.observe(row, G)

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        run.postfix["health"] = self.health.postfix()

    def recovery(self, run: "Run", row: dict[str, Any]) -> Path | None:
        if self.remedy is not None and run.last_ckpt is not None and self.remedy.can_roll_back():
            return run.last_ckpt
        return None

    def on_rollback(self, run: "Run", row: dict[str, Any], to_step: int) -> None:
        kept = [r for r in read_jsonl(run.dir.metrics) if r.get("step", 0) <= to_step]
        self.health.roll_back(row, to_step, kept)


class Evaluate(Hook):
    """--eval-every: scores of the sampling generator (FID/KID, modes, JSD), drawn from its own RNG."""

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self.last: dict[str, Any] = {}

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        if run.is_eval_step(int(row["step"])):
            self.last = self.evaluator(run.sampling_net, int(row["step"]))
            row.update(self.last)
            run.restart_interval()  # evaluation time does not count against it/s
        run.postfix["eval"] = " ".join(f"{k[5:]}={v:.3g}" for k, v in self.last.items()
                                       if k.startswith("Eval/") and k != "Eval/KID")


class TensorBoard(Hook):
    def __init__(self, run: "Run") -> None:
        from ..tensorboard import TensorBoardWriter

        self.tb = TensorBoardWriter(run.dir.tensorboard, purge_step=run.state.step if run.resumed else None)

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        self.tb.scalars(row, int(row["step"]))

    def on_step_end(self, run: "Run") -> None:
        png = run.dir.sample(run.state.step)
        if run.is_sample_step() and png.exists():
            self.tb.image_file("samples", png, run.state.step)

    def on_end(self, run: "Run") -> None:
        self.tb.close()


class Snapshots(Hook):
    """samples/step_*.png: the sampling generator on the fixed inputs (Method.snapshot)."""

    def on_step_end(self, run: "Run") -> None:
        if run.is_sample_step():
            from ..viz.samples import save_samples

            with torch.no_grad(), eval_mode(run.sampling_net) as net:
                fake = run.method.snapshot(net, run.state.nets, run.fixed)
            save_samples(fake, run.dir.sample(run.state.step), real=run.data.x, nrow=run.grid_nrow,
                         title=f"step {run.state.step}")


class Checkpoints(Hook):
    """A complete checkpoint every --ckpt-every steps and at the end; the oldest beyond --keep-ckpts go.

    Only a finite state is saved: losses are checked before an update, so a step can log finite values and
    still leave NaN/inf in the weights, BatchNorm statistics or Adam moments. Such a state raises NonFinite
    instead, which the loop treats as a non-finite log row (roll back with --auto-remedy, else stop), and the last
    checkpoint stays the last good one."""

    def on_step_end(self, run: "Run") -> None:
        step = run.state.step
        if step % run.cfg.ckpt_every and step != run.cfg.steps:
            return
        self.save_now(run)

    def save_now(self, run: "Run") -> Path:
        """Checkpoint the current step (unless it is the last checkpoint already) and return its path."""
        from .loop import NonFinite

        path = run.dir.checkpoint(run.state.step)
        if path == run.last_ckpt:
            return path
        # rank 0 decides and every rank learns the outcome, so all of them stop or roll back together
        bad = dist_.on_rank0(run.ctx, lambda: self._write(run, path), share=True)
        if bad:
            raise NonFinite({"step": run.state.step, **bad})
        run.last_ckpt = path
        return path

    @staticmethod
    def _write(run: "Run", path: Path) -> dict[str, float]:
        """Save and prune, or the first non-finite tensor of each group (nothing written then)."""
        tensors, meta = run.state.pack(run.cfg, run.elapsed())  # plain modules: the weights load on any rank count
        bad = integrity.non_finite(tensors)
        if not bad:
            ckpt.save(path, tensors, meta)
            ckpt.prune(run.dir.root, run.cfg.keep_ckpts, protect=path)
        return bad


class Progress(Hook):
    def __init__(self, run: "Run") -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=run.cfg.steps, initial=run.state.step, disable=not (run.cfg.progress and run.ctx.is_main),
                        unit="step", dynamic_ncols=True, desc=type(run.method).label(run.cfg.model, run.cfg.loss),
                        mininterval=0.5)

    def on_log(self, run: "Run", row: dict[str, Any]) -> None:
        parts = [f"D={row['Loss/D']:.3f}", f"G={row['Loss/G']:.3f}"] if "Loss/D" in row and "Loss/G" in row else []
        if "D/real" in row:
            parts += [f"D(x)={row['D/real']:.2f}", f"D(G(z))={row['D/fake']:.2f}"]
        text = " ".join(parts + [run.postfix.get("eval", "")]).strip() + run.postfix.get("health", "")
        self.bar.set_postfix_str(text, refresh=False)

    def on_step_end(self, run: "Run") -> None:
        self.bar.update(run.state.step - self.bar.n)

    def on_rollback(self, run: "Run", row: dict[str, Any], to_step: int) -> None:
        self.bar.update(to_step - self.bar.n)

    def on_end(self, run: "Run") -> None:
        self.bar.close()
