"""Training: `gankit.train(config, data=, generator=, discriminator=, loss=)` and `gankit.resume(run)`.

The loop is gankit.training.loop; what a step computes comes from the method (gankit.methods); logging, health,
scores, snapshots and checkpoints are hooks (gankit.training.hooks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from .. import checkpoint as ckpt
from ..config import PYTHON_NETWORK, TrainConfig
from ..errors import ConfigError
from ..factories import import_factory, is_factory_path
from ..rundir import RunDir
from .interrupts import TrainingInterrupted
from .loop import RunResult, TrainingDiverged

__all__ = ["RunResult", "TrainingDiverged", "TrainingInterrupted", "resume", "train"]

Network = nn.Module | str | None


def train(config: TrainConfig, data: Any = None, generator: Network = None, discriminator: Network = None,
          loss: Any = None, *, resume: bool = False, trust_code: bool = False) -> RunResult:
    """Train a GAN as `config` says and write the run directory `config.out`.

    Your own parts, each optional:
      data: images [N, C, H, W] / [N, H, W] (uint8 pixels or floats in [-1, 1]) or vectors [N, D], as a tensor or
        numpy array, a pair (x, labels), or a torch Dataset of x or (x, label);
      generator / discriminator: an nn.Module (G(z) or G(z, y) -> [N, *data_shape]; D(x) or D(x, y) -> [N] raw
        logits), or a factory "package.module:function" called with data_shape=, z_dim=, num_classes=;
      loss: a pair of functions (d_loss(real_logits, fake_logits), g_loss(fake_logits)) or an object with those
        two methods, each returning a scalar.
    A run made with them is a complete run directory; resuming it takes the same parts again. A factory recorded in
    a config is imported only with `trust_code=True`. `resume=True` continues from the newest checkpoint."""
    from ..methods import Parts, build_method
    from .data import as_dataset, load_training_data
    from .loop import train as run_loop

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a gankit.TrainConfig, got {type(config).__name__}")
    changes: dict[str, Any] = {}
    dataset = None
    if data is not None:
        dataset = as_dataset(data)
        changes["dataset"] = dataset.name
    if loss is not None:
        changes["loss"] = "custom"
    elif config.loss == "custom":
        raise ConfigError("this config's loss was given from Python ('custom'); pass loss=... again")
    cfg = config.replace(**changes)
    g_module, changes["generator"] = _network(generator, cfg.generator, "generator", trust_code)
    d_module, changes["discriminator"] = _network(discriminator, cfg.discriminator, "discriminator", trust_code)
    cfg = cfg.replace(**changes).resolved()
    _check_out(cfg, resume)  # before the data loads: a refused folder costs no wait
    dataset = load_training_data(cfg, dataset)
    if g_module is not None and not isinstance(g_module, nn.Module):  # a factory
        g_module = _call_factory(g_module, "generator", data_shape=tuple(dataset.sample_shape), z_dim=cfg.z_dim,
                                 num_classes=dataset.num_classes if cfg.conditional else 0)
    if d_module is not None and not isinstance(d_module, nn.Module):
        d_module = _call_factory(d_module, "discriminator", data_shape=tuple(dataset.sample_shape),
                                 num_classes=dataset.num_classes if cfg.conditional else 0)
    method = build_method(cfg, dataset, Parts(g_module, d_module, loss))
    return run_loop(cfg, resume=resume, data=dataset, method=method)


def resume(run_dir: str | Path, *, steps: int | None = None, progress: bool | None = None, data: Any = None,
           generator: Network = None, discriminator: Network = None, loss: Any = None,
           trust_code: bool = False) -> RunResult:
    """Continue a run from its newest checkpoint, optionally to a larger number of steps. A run trained on your
    own data, networks or loss takes them again here."""
    if not str(run_dir).strip():
        raise ConfigError("resume needs a run folder, got an empty path")
    run_dir = Path(run_dir)
    layout = RunDir(run_dir)
    layout.check_writable()  # before its config.json is read
    cfg = TrainConfig.from_json_file(layout.config)
    changes: dict[str, Any] = {"out": str(run_dir)}
    if cfg.model == "mlp" and "depth" not in layout.read_config():
        # saved before `depth` existed: keep the run's own depth, not what the recipe now resolves to
        from ..models.mlp import checkpoint_depth

        changes["depth"] = checkpoint_depth(ckpt.load(ckpt.latest_checkpoint(run_dir))[0])
    if steps is not None:
        changes["steps"] = steps
    if progress is not None:
        changes["progress"] = progress
    if loss is None and cfg.loss == "custom":
        raise ConfigError(f"{run_dir} was trained with a loss given from Python; pass loss=... to resume it")
    return train(cfg.replace(**changes), data, generator, discriminator, loss, resume=True, trust_code=trust_code)


def _check_out(cfg: TrainConfig, resume: bool) -> None:
    """The checks on the run folder that need no lock (the loop repeats them under its lock)."""
    out = RunDir(Path(cfg.out))
    if resume:
        out.check_writable()
    else:
        out.check_new()


def _network(given: Network, recorded: str | None, role: str, trust_code: bool) -> tuple[Any, str | None]:
    """(module or factory to use, what the config records) for one network."""
    if isinstance(given, nn.Module):
        return given, PYTHON_NETWORK
    if isinstance(given, str):  # named by the caller: that is the word to import it
        return import_factory(given, role), given
    if given is not None:
        raise ConfigError(f"{role} must be an nn.Module or a factory 'package.module:function', got "
                          f"{type(given).__name__}")
    if recorded is None:
        return None, None
    if recorded == PYTHON_NETWORK:
        raise ConfigError(f"this run's {role} was given from Python as a module; pass {role}=... (a module of the "
                          "same class) to train or resume it")
    if not is_factory_path(recorded):
        raise ConfigError(f"config key {role!r} must be a factory 'package.module:function' or null, got "
                          f"{recorded!r}")
    if not trust_code:
        raise ConfigError(f"this run's {role} is built by code, {recorded!r}; importing it runs that code: pass "
                          f"trust_code=True (CLI: --trust-code) if you trust it, or pass {role}=... yourself")
    return import_factory(recorded, role), recorded


def _call_factory(factory: Any, role: str, **kwargs: Any) -> nn.Module:
    try:
        net = factory(**kwargs)
    except Exception as e:
        raise ConfigError(f"{role} factory {getattr(factory, '__qualname__', factory)!r} failed with "
                          f"{', '.join(f'{k}={v}' for k, v in kwargs.items())}: {type(e).__name__}: {e}") from None
    if not isinstance(net, nn.Module):
        raise ConfigError(f"{role} factory returned {type(net).__name__}, not an nn.Module")
    return net
