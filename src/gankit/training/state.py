"""What a checkpoint holds: every network, EMA copy and optimizer of a method, the training RNG streams and the
step, packed into named tensors plus JSON metadata (gankit.checkpoint writes them atomically)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import checkpoint as ckpt
from .. import integrity
from ..config import TrainConfig
from ..data import Dataset
from ..methods import Method


@dataclass
class TrainState:
    nets: dict[str, nn.Module]  # the trained networks by name: G, D, ...
    ema: dict[str, nn.Module]  # EMA copies by name: G_ema
    opts: dict[str, torch.optim.Optimizer]  # by optimizer group name
    gen: torch.Generator  # every random draw of training (z, labels, GP alpha, instance noise)
    data_shape: tuple[int, ...]
    num_classes: int  # of the data set (the networks are conditional only when the config says so)
    class_names: list[str] | None = None
    step: int = 0
    modules: dict[str, nn.Module] = field(init=False)  # nets and EMA copies: what a checkpoint stores

    def __post_init__(self) -> None:
        self.modules = {**self.nets, **self.ema}

    def pack(self, cfg: TrainConfig, elapsed: float) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for name, module in self.modules.items():
            tensors.update(ckpt.pack_module(name, module))
        meta: dict[str, Any] = {}
        for name, opt in self.opts.items():
            t, m = ckpt.pack_optimizer(f"opt_{name}", opt)
            tensors.update(t)
            meta[f"opt_{name}"] = m
        tensors["rng/train"] = self.gen.get_state()
        tensors["rng/torch_cpu"] = torch.get_rng_state()
        if torch.cuda.is_available() and self.gen.device.type == "cuda":
            tensors["rng/torch_cuda"] = torch.cuda.get_rng_state()
        meta["rng"] = sorted(k for k in tensors if k.startswith("rng/"))  # what a resume must find again
        meta.update({"step": self.step, "config": cfg.to_dict(), "elapsed_s": elapsed, "torch": torch.__version__,
                     "has_ema": bool(self.ema), "data_shape": list(self.data_shape),
                     "num_classes": self.num_classes, "class_names": self.class_names})
        return tensors, meta

    def verify(self, path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Refuse, as a CorruptCheckpoint, a checkpoint that lacks part of this state (a weight of any network or
        EMA copy, optimizer state, an RNG stream, the step) or holds NaN/inf: a resume continues exactly or not
        at all. Checked before anything is loaded, so an older checkpoint can be tried instead."""
        if "step" not in meta:
            raise ckpt.CorruptCheckpoint(f"{path}: incomplete checkpoint (no step); resuming needs the full "
                                         "training state")
        ckpt.check_run_meta(path, meta)
        missing = [f"{name}/{k}" for name, module in self.modules.items() for k in module.state_dict()
                   if f"{name}/{k}" not in tensors]
        step = meta["step"]
        for name in self.opts:
            opt_meta = meta.get(f"opt_{name}")
            if opt_meta is None:
                missing.append(f"the state of optimizer {name!r}")
                continue
            try:
                missing += ckpt.missing_optimizer_state(f"opt_{name}", tensors, opt_meta, step)
            except ckpt.CorruptCheckpoint as e:
                raise ckpt.CorruptCheckpoint(f"{path}: {e}") from None
        missing += [k for k in meta.get("rng") or ("rng/train", "rng/torch_cpu") if k not in tensors]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise ckpt.CorruptCheckpoint(f"{path}: incomplete checkpoint (no {missing[0]}{more}); resuming needs "
                                         "the full training state")
        bad = integrity.non_finite(tensors)
        if bad:
            raise ckpt.CorruptCheckpoint(f"{path}: holds non-finite values ({', '.join(bad)})")

    def unpack(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
        for name, module in self.modules.items():
            ckpt.unpack_module(name, module, tensors, path)
        for name, opt in self.opts.items():
            if f"opt_{name}" not in meta:
                raise ckpt.CheckpointError(f"{path}: no state for optimizer {name!r} in the checkpoint")
            ckpt.unpack_optimizer(f"opt_{name}", opt, tensors, meta[f"opt_{name}"], path)
        try:
            self.gen.set_state(tensors["rng/train"])
            torch.set_rng_state(tensors["rng/torch_cpu"])
            if "rng/torch_cuda" in tensors and torch.cuda.is_available():
                torch.cuda.set_rng_state(tensors["rng/torch_cuda"])
        except (KeyError, RuntimeError) as e:
            raise ckpt.CheckpointError(f"{path}: missing or bad RNG state ({e})") from None
        self.step = meta["step"]


def make_optimizer(params: Any, lr: float, cfg: TrainConfig) -> torch.optim.Adam:
    # foreach: one kernel per group of tensors instead of a Python loop over parameters.
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), foreach=True)


def init_state(cfg: TrainConfig, method: Method, data: Dataset, device: torch.device) -> TrainState:
    """Fresh networks (seeded), their EMA copy and optimizers, and the training stream."""
    torch.manual_seed(cfg.seed)  # weight initialisation draws from the global generator
    nets = {name: net.to(device) for name, net in method.build().items()}
    if cfg.channels_last and data.is_image:  # in place: the optimizers below see the same Parameter objects
        nets = {name: net.to(memory_format=torch.channels_last) for name, net in nets.items()}
    ema = {}
    if cfg.ema and method.ema_of is not None:
        ema[f"{method.ema_of}_ema"] = copy.deepcopy(nets[method.ema_of]).eval().requires_grad_(False)
    opts = {}
    for name, group in method.optimizers().items():
        params = [p for net in group.networks for p in nets[net].parameters()]
        opts[name] = make_optimizer(params, group.lr, cfg)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    return TrainState(nets, ema, opts, gen, tuple(data.sample_shape), data.num_classes, data.class_names)
