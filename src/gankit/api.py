"""Using a trained model: `G = gankit.load("runs/NAME"); images = G.sample(16, labels=7)`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint as ckpt
from . import integrity, progress
from .config import TrainConfig
from .errors import CheckpointError, ConfigError

LabelSpec = int | Sequence[int] | torch.Tensor | None
#: images generated per forward pass by `Generator.sample` unless told otherwise (measured in bench/run.py)
IMAGE_BATCH = 128


class Generator(nn.Module):
    """A trained generator (the EMA copy when the run kept one), in eval mode, with its prior and labels.

    It is an `nn.Module`: `G(z, labels)` runs the network with gradients, so you can fine-tune it (its
    `parameters()` are the network's), invert it (optimise z toward a target image) or put it in your own
    pipeline; `G.net` is the bare network. `sample` and `interpolate` are the no-grad fast path and return
    data-space tensors: images [N, C, H, W] in [-1, 1] (see `gankit.viz.to_uint8`), toy points [N, D] in the
    data's own coordinates.
    """

    def __init__(self, net: nn.Module, config: TrainConfig, *, step: int, source: Path, uses_ema: bool,
                 class_names: list[str] | None = None, extras: dict[str, nn.Module] | None = None) -> None:
        super().__init__()
        self.net = net
        self.eval()
        # the method's other networks by verb (Method.inference), e.g. {"encode": E}; a plain dict, so that
        # `parameters()` stay the generator's own
        self.extras: dict[str, nn.Module] = dict(extras or {})
        self.config = config
        self.step = step
        self.source = source
        self.uses_ema = uses_ema
        self.class_names = class_names

    # ------------------------------------------------------------------ properties
    @property
    def z_dim(self) -> int:
        if not hasattr(self.net, "z_dim"):  # a translator (cyclegan) maps images to images: no noise to sample
            raise ConfigError(f"{self.source}: this run (method {self.config.method!r}) translates images and "
                              "draws none from noise; use its translate network instead")
        return int(self.net.z_dim)

    @property
    def num_classes(self) -> int:
        return int(self.net.num_classes)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.net.data_shape)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    # ------------------------------------------------------------------ sampling
    def sample_z(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n latent vectors from the run's prior.  # [n, z_dim]"""
        from .models.prior import sample_prior

        g = torch.Generator(device=self.device)
        if seed is None:
            g.seed()
        else:
            g.manual_seed(seed)
        return sample_prior(self.config.prior, n, self.z_dim, g, self.device)

    def labels(self, n: int, labels: LabelSpec = None, seed: int | None = None) -> torch.Tensor | None:
        """Resolve a label request: an int (all n the same class), a sequence/tensor of n labels, or None (for a
        conditional model: classes cycled 0, 1, 2, ... so a grid shows every class)."""
        if self.num_classes == 0:
            if labels is not None:
                raise ConfigError("this generator is unconditional; --class/labels cannot be used "
                                  "(train with --conditional)")
            return None
        if labels is None:
            y = torch.arange(n) % self.num_classes
        elif isinstance(labels, int):
            y = torch.full((n,), labels, dtype=torch.long)
        else:
            y = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
            if len(y) != n:
                raise ConfigError(f"got {len(y)} labels for {n} samples")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ConfigError(f"class labels must be in 0..{self.num_classes - 1}, got {y.unique().tolist()}")
        return y.to(self.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) (or G(z, labels)) with gradients.  # [N, z_dim] (+ [N]) -> [N, *data_shape]"""
        return self.net(z.to(self.device), labels)

    @property
    def num_codes(self) -> int:
        """Categories of the generator's categorical latent code (InfoGAN runs), else 0."""
        return int(getattr(self.net, "info_cat", 0))

    def with_code(self, z: torch.Tensor, code: int | None) -> torch.Tensor:
        """z set to hold categorical code `code` (None: z as it is).  # [N, z_dim] -> [N, z_dim]"""
        if code is None:
            return z
        if not self.num_codes:
            raise ConfigError("this generator has no categorical code; --code / code= applies to runs trained with "
                              "--method infogan")
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < self.num_codes:
            raise ConfigError(f"code must be an integer in 0..{self.num_codes - 1}, got {code!r}")
        return self.net.with_codes(z, cat=code)

    @torch.no_grad()
    def sample(self, n: int, labels: LabelSpec = None, *, code: int | None = None, seed: int | None = None,
               batch_size: int | None = None, truncation: float | None = None) -> torch.Tensor:
        """n samples, generated in batches of `batch_size` (no per-image Python work).  # [n, *data_shape]

        `code` fixes the categorical latent code of an InfoGAN generator (its noise and other codes still vary).
        `truncation` (psi in (0, 1], style-based generators) pulls each w toward the tracked mean w.
        The default batch is IMAGE_BATCH for image generators (their activations then stay in the CPU's caches:
        more images/s than one large batch, bench/run.py) and 1024 for the small toy networks."""
        if n <= 0:
            raise ConfigError(f"number of samples must be > 0, got {n}")
        self._need_noise()
        if batch_size is None:
            batch_size = IMAGE_BATCH if len(self.data_shape) == 3 else 1024
        if batch_size <= 0:
            raise ConfigError(f"batch_size must be > 0, got {batch_size}")
        style = self.style_options(truncation)
        z = self.with_code(self.sample_z(n, seed), code)
        y = self.labels(n, labels, seed)
        if n <= batch_size:
            return self.net(z, y, **style).contiguous()  # NCHW memory even from a channels-last generator
        parts = []
        with progress.bar(-(-n // batch_size), "sampling", unit="batch") as bar:
            for i in range(0, n, batch_size):
                parts.append(self.net(z[i:i + batch_size], None if y is None else y[i:i + batch_size], **style))
                bar.update(1)
        return torch.cat(parts).contiguous()

    @torch.no_grad()
    def interpolate(self, steps: int = 10, *, slerp: bool = False, seed: int | None = None,
                    labels: LabelSpec = None, rows: int = 1, code: int | None = None,
                    truncation: float | None = None) -> torch.Tensor:
        """`rows` walks of `steps` points each between pairs of random latents.  # [rows * steps, *data_shape]

        Linear interpolation in a Gaussian latent space passes through low-norm points the generator rarely saw;
        slerp (White 2016) keeps the norm typical."""
        if steps < 2:
            raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
        self._need_noise()
        style = self.style_options(truncation)
        z = self.with_code(self.sample_z(2 * rows, seed), code)  # both ends hold the code, so the walk does too
        z0, z1 = z[:rows], z[rows:]  # [rows, z_dim]
        t = torch.linspace(0, 1, steps, device=self.device).view(1, steps, 1)
        if slerp:
            zs = slerp_between(z0, z1, t)
        else:
            zs = z0[:, None] * (1 - t) + z1[:, None] * t  # [rows, steps, z_dim]
        zs = zs.reshape(rows * steps, -1)
        if self.num_classes and labels is None:
            y = (torch.arange(rows) % self.num_classes).repeat_interleave(steps).to(self.device)
        else:
            y = self.labels(rows * steps, labels)
        return self.net(zs, y, **style).contiguous()

    # ------------------------------------------------------------------ styles (style-based generators)
    @property
    def has_styles(self) -> bool:
        """Whether the generator takes styles (a mapping network and per-layer w: --method stylegan runs)."""
        return bool(getattr(self.net, "has_styles", False))

    def style_options(self, truncation: float | None) -> dict[str, Any]:
        """The generator's keyword for the truncation trick, checked: psi in (0, 1], styles needed."""
        if truncation is None:
            return {}
        self._need_styles("--truncation / truncation=")
        if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0 < truncation <= 1:
            raise ConfigError(f"truncation psi must be in (0, 1] (1: none), got {truncation!r}")
        return {"psi": float(truncation)}

    def _need_styles(self, what: str) -> None:
        if not self.has_styles:
            raise ConfigError(f"{what} needs a generator with styles (a run trained with --method stylegan); this "
                              f"run's method is {self.config.method!r}")

    @torch.no_grad()
    def mix(self, rows: int = 4, cols: int = 4, *, cut: int | None = None, seed: int | None = None,
            truncation: float | None = None) -> torch.Tensor:
        """A style-mixing grid (Karras et al. 2019, fig. 3): row i's latent gives the coarse styles (layers before
        `cut`), column j's the fine ones (from `cut` on). The first row shows the column sources, the first
        column the row sources, the corner is blank.  # -> [(rows + 1) * (cols + 1), *data_shape]"""
        self._need_styles("style mixing (--mix / mix())")
        style = self.style_options(truncation)
        layers = int(self.net.num_ws)
        cut = layers // 2 if cut is None else cut
        if isinstance(cut, bool) or not isinstance(cut, int) or not 1 <= cut < layers:
            raise ConfigError(f"the crossover layer must be in 1..{layers - 1} (this generator has {layers} style "
                              f"layers), got {cut!r}")
        if rows < 1 or cols < 1:
            raise ConfigError(f"a mixing grid needs at least one row and column, got {rows} x {cols}")
        z = self.sample_z(rows + cols, seed)
        coarse, fine = z[:rows], z[rows:]  # [rows, z_dim], [cols, z_dim]
        a = coarse.repeat_interleave(cols, dim=0)
        b = fine.repeat(rows, 1)
        mixed = self.net(a, None, mix_z=b, mix_cut=cut, **style).view(rows, cols, *self.data_shape)
        top = torch.cat([torch.full((1, *self.data_shape), -1.0, device=z.device), self.net(fine, None, **style)])
        left = self.net(coarse, None, **style)[:, None]  # [rows, 1, ...]
        body = torch.cat([left, mixed], dim=1)  # [rows, cols + 1, ...]
        return torch.cat([top, body.reshape(-1, *self.data_shape)]).contiguous()

    def _need_noise(self) -> None:
        if not self.z_dim:
            raise ConfigError(f"{self.source}: this run (method {self.config.method!r}) translates images and "
                              "samples nothing from noise; use translate (gankit translate RUN --images PATH)")

    # ------------------------------------------------------------------ the method's other networks
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The latent code of each image, from the run's encoder (BiGAN).  # [N, C, H, W] in [-1, 1] -> [N, z_dim]"""
        return self._run_extra("encode", x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of each image, from the run's classifier (the semi-supervised GAN's D).
        # [N, C, H, W] in [-1, 1] -> [N, K]"""
        return self._run_extra("classify", x)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, mask: torch.Tensor | None = None, batch_size: int = 500) -> torch.Tensor:
        """The run's translator applied to images (pix2pix runs, any method with a "translate" network).
        # [N, C, h, w] in [-1, 1] at the task's input size -> [N, *data_shape] in [-1, 1]

        The input is the task's: an edge map for edges, the 7x7 / 14x14 image for superres4 / superres2, the
        grey image for colorize, the image with its missing pixels for inpaint, marked by `mask` (1 missing, 0
        kept; [N, 1, H, W], [N, H, W] or one [H, W] for all) or by NaN in x. A given mask wins: NaN is then
        allowed only inside it. The inpainted output keeps the known pixels as they were."""
        from .data.tasks import find_task

        net = self.extra_net("translate")
        task = find_task(self.config.task)
        x = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x
        if mask is not None and not isinstance(mask, torch.Tensor):
            mask = torch.as_tensor(mask)
        if task is not None:
            x = task.user_input(x, mask, self.data_shape)
        else:  # a method's own task: its network says what it takes
            want = tuple(getattr(net, "in_shape", self.data_shape))
            if mask is not None:
                raise ConfigError(f"a mask applies to inpainting runs only; this run's task is {self.config.task!r}")
            if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != want or len(x) == 0:
                raise ConfigError(f"translate takes images [N, {', '.join(map(str, want))}] in [-1, 1], got "
                                  f"{list(x.shape)}")
            if not bool(torch.isfinite(x).all()):
                raise ConfigError("translate: the images hold NaN or inf values")
        x = x.to(self.device, torch.float32)
        return torch.cat([net(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).contiguous()

    def extra_net(self, verb: str) -> nn.Module:
        """The run's network for `verb` ("encode", "classify"), or a one-line ConfigError naming the methods that
        have one."""
        net = self.extras.get(verb)
        if net is None:
            from .methods import get_method, method_names

            able = [m for m in method_names() if verb in get_method(m).inference]
            raise ConfigError(f"{self.source}: this run (method {self.config.method!r}) has no network to {verb} "
                              f"with; train one with --method {' or '.join(able) or '(none registered)'}")
        return net

    @torch.no_grad()
    def _run_extra(self, verb: str, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        net = self.extra_net(verb)
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.data_shape or x.shape[0] == 0:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ConfigError(f"{verb} takes a batch of images [N, {', '.join(map(str, self.data_shape))}] in "
                              f"[-1, 1], got {shape}")
        x = x.to(self.device, torch.float32)
        if not bool(torch.isfinite(x).all()):
            raise ConfigError(f"{verb}: the images hold NaN or inf values")
        return torch.cat([net(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def __repr__(self) -> str:
        c = self.config
        z = f"z_dim={self.net.z_dim}" if hasattr(self.net, "z_dim") else f"method={c.method!r}"
        return (f"gankit.Generator(model={c.model!r}, loss={c.loss!r}, dataset={c.dataset!r}, step={self.step}, "
                f"{z}, num_classes={self.num_classes}, ema={self.uses_ema})")


def slerp_between(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation, row by row.  z0, z1: [R, Z]; t: [1, T, 1] -> [R, T, Z]"""
    a, b = z0[:, None], z1[:, None]
    cos = (torch.nn.functional.normalize(z0, dim=1) * torch.nn.functional.normalize(z1, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7)).view(-1, 1, 1)
    so = torch.sin(omega)
    near = so.abs() < 1e-6  # (anti)parallel latents: fall back to linear
    w0 = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / so)
    w1 = torch.where(near, t, torch.sin(t * omega) / so)
    return w0 * a + w1 * b


def load(path: str | Path, *, device: str | torch.device = "cpu", ema: bool = True, channels_last: bool = False,
         generator: nn.Module | None = None, trust_code: bool = False) -> Generator:
    """Rebuild the generator from a run directory (its newest checkpoint), a checkpoint file alone, or a
    generator exported with `gankit export --format safetensors` (its .safetensors or .json).

    A run trained with your own generator module takes a fresh one of the same class as `generator=`, whose
    weights are then loaded; one whose config names a factory ("package.module:function") imports it only with
    `trust_code=True`: loading a run never runs code from it otherwise.

    `channels_last=True` runs a convolutional generator in NHWC memory (faster on CPU, see bench/run.py); its
    samples agree with the default layout's to float rounding and are returned in the usual NCHW layout.

    A spectrally normalised generator (`--model sagan`) comes back with its spectral norm baked into plain
    weights (W / sigma, gankit.models.spectral): it samples exactly as the trained network does in eval mode, and
    fine-tuning it no longer renormalises."""
    from .models.spectral import bake_spectral_norm

    bare = ckpt.read_bare_generator(path)  # an exported generator holds one set of weights: `ema` does not apply
    if bare is not None:
        file, tensors, meta = bare
    else:
        file = ckpt.resolve(path)
        tensors, meta = ckpt.load(file)
        if "classifier" in meta:
            raise CheckpointError(f"{file}: a gankit classifier checkpoint, not a training run's")
        ckpt.check_run_meta(file, meta)
    try:
        cfg = TrainConfig.from_dict(meta["config"], source=f"{file} (config)")
        data_shape = tuple(meta.get("data_shape") or ())
        num_classes = int(meta.get("num_classes", 0))
    except KeyError as e:
        raise CheckpointError(f"{file}: checkpoint metadata lacks {e}") from None
    if not data_shape:
        raise CheckpointError(f"{file}: checkpoint metadata lacks the data shape")
    if cfg.model == "mlp" and "depth" not in meta["config"]:  # saved before `depth` existed: read it off the weights
        from .models.mlp import checkpoint_depth

        cfg = cfg.replace(depth=checkpoint_depth(tensors))
    G = _generator_module(cfg, data_shape, num_classes, generator, trust_code, file).eval()
    if bare is not None:  # an exported generator holds the effective weights of any spectral norm (baked below)
        bake_spectral_norm(G)
    name = "G" if bare is not None else _sampler_name(cfg)  # the network that samples (cyclegan: G_ab)
    use_ema = (ema or bare is not None) and any(k.startswith(f"{name}_ema/") for k in tensors)
    _refuse_non_finite(file, f"{name}_ema" if use_ema else name, tensors)
    ckpt.unpack_module(f"{name}_ema" if use_ema else name, G, tensors, file)
    bake_spectral_norm(G)  # in eval mode: W / sigma from the stored power-iteration vectors, as training sampled
    G = G.to(device)
    if channels_last and len(data_shape) == 3:
        G = G.to(memory_format=torch.channels_last)
    extras = {} if bare is not None else _inference_nets(cfg, data_shape, num_classes, tensors, file, device)
    return Generator(G, cfg, step=int(meta.get("step") or 0), source=file, uses_ema=use_ema,
                     class_names=meta.get("class_names"), extras=extras)


def _inference_nets(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int,
                    tensors: dict[str, torch.Tensor], file: Path, device: str | torch.device) -> dict[str, nn.Module]:
    """The networks the run's method offers besides G (Method.inference), rebuilt and loaded, in eval mode. A
    method that is not registered in this process offers none (its G still samples)."""
    from .methods import get_method

    try:
        method = get_method(cfg.method)
    except ConfigError:
        return {}
    nets = {}
    for verb, name in method.inference.items():
        net = method.inference_net(name, cfg, data_shape, num_classes)
        bad = integrity.non_finite({k: v for k, v in tensors.items() if k.startswith(name + "/")})
        if bad:
            raise CheckpointError(f"{file}: the weights of {name} ({verb}) are not finite ({', '.join(bad)} holds "
                                  "NaN/inf); use an earlier checkpoint of the run")
        ckpt.unpack_module(name, net, tensors, file)
        nets[verb] = net.to(device).eval()
    return nets


def _refuse_non_finite(file: Path, prefix: str, tensors: dict[str, torch.Tensor]) -> None:
    """Samples from NaN/inf weights are NaN images or garbage scores: say so instead, naming the file."""
    bad = integrity.non_finite({k: v for k, v in tensors.items() if k.startswith(prefix + "/")})
    if bad:
        raise CheckpointError(f"{file}: the generator's weights are not finite ({', '.join(bad)} holds NaN/inf); "
                              "use an earlier checkpoint of the run")


def _generator_module(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int, given: nn.Module | None,
                      trust_code: bool, file: Path) -> nn.Module:
    """An untrained generator of the run's architecture: the caller's module, the run's factory (on trust), or
    the built-in model the config names."""
    from .config import PYTHON_NETWORK
    from .factories import import_factory
    from .models import build_networks
    from .models.custom import as_generator

    k = num_classes if cfg.conditional else 0
    if given is None and cfg.generator == PYTHON_NETWORK:
        raise ConfigError(f"{file}: this run's generator was given from Python as a module; pass generator=... "
                          "(a fresh module of the same class) to load it")
    if given is None and cfg.generator is not None:
        if not trust_code:
            raise ConfigError(f"{file}: this run's generator is built by code, {cfg.generator!r}; importing it runs "
                              "that code: pass trust_code=True if you trust it, or generator=... yourself")
        given = import_factory(cfg.generator, "generator")(data_shape=data_shape, z_dim=cfg.z_dim, num_classes=k)
    if given is None:
        own = _method_sampler(cfg, data_shape, num_classes)
        return own if own is not None else build_networks(cfg, data_shape, num_classes)[0]
    return as_generator(given, data_shape=data_shape, z_dim=cfg.z_dim, num_classes=k)


def _sampler_name(cfg: TrainConfig) -> str:
    """The checkpoint name of the run's sampling network: its method's `sampler` ("G" unless a method says
    otherwise, e.g. CycleGAN's translator G_ab); "G" for a method not registered in this process."""
    from .methods import get_method, method_names

    return get_method(cfg.method).sampler if cfg.method in method_names() else "G"


def _method_sampler(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
    """The run's method's own sampler architecture (e.g. InfoGAN's coded generator), or None for the config's
    model. A method not registered in this process (a user's own) samples with the config's model."""
    from .methods import get_method, method_names

    if cfg.method not in method_names():
        return None
    return get_method(cfg.method).sampler_network(cfg, data_shape, num_classes)


def grid_rows(n: int) -> int:
    return max(1, int(math.ceil(math.sqrt(n))))


def describe(meta: dict[str, Any]) -> str:
    c = meta.get("config", {})
    return f"{c.get('model')}/{c.get('loss')} on {c.get('dataset')} at step {meta.get('step')}"
