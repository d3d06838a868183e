"""Default recipes: the values a run takes for the knobs its config leaves unset (None).

No single set of hyperparameters trains every GAN: a 2-D toy wants a wide MLP, large batches and a small learning
rate; MNIST wants the DCGAN defaults (Adam 2e-4, betas 0.5/0.999, batch 64); WGAN-GP wants k = 5 critic steps and
beta2 = 0.9 (Gulrajani et al. 2017). A recipe is chosen from the data family, the model and the loss, and
`resolve` writes the chosen values into the config, so a run's `config.json` always holds every number it used.
Anything set explicitly (a flag, a config file, a keyword) wins over the recipe.
"""

from __future__ import annotations

from typing import Any

from .config import PYTHON_DATA, RECIPE_FIELDS, TrainConfig
from .data import _canonical, is_toy

IMAGE_Z_DIM = 100  # DCGAN's and the seeds' latent size
TOY_Z_DIM = 32

# Images with the DCGAN optimiser of Radford et al. 2016 (Adam 2e-4, betas 0.5/0.999). Measured on mnist5k on a
# 2-core CPU: a D as wide as G wins too easily (D(x) ~ 0.86 vs D(G(z)) ~ 0.14 throughout, blotchy digits), so
# G is twice as wide as D; and batches of 32 give cleaner digits than 64 for the same images seen and the same
# wall time (3000 steps at ~17 it/s against 2000 at ~12 it/s).
_IMAGE: dict[str, Any] = {"steps": 3000, "batch_size": 32, "d_steps": 1, "lr_g": 2e-4, "lr_d": 2e-4,
                          "beta2": 0.999, "ema": 0.999, "r1": 0.0, "z_dim": IMAGE_Z_DIM,
                          "mode_seeking": 0.0}
# The classic nets' 5x5 convolutions at 14x14 cost about 3x DCGAN's step at width 64 (0.88 s against 0.31 s per
# step of batch 32 at width 32, one thread); at width 32 on full MNIST, seed 0, 3,000 steps: FID (2,000 samples)
# 87, recall 0.69, every class present.
# sagan: DCGAN's layout and widths with attention, so the two compare at equal wall time
_IMAGE_WIDTH = {"dcgan": (64, 32), "classic": (32, 32), "sagan": (64, 32),
                "dcgan-dense": (32, 32)}  # model -> (G width, D width)

# The default model on 28x28 grey images (unconditional GAN): DCGAN's convolutions with a dense layer on each side
# (gankit.models.dense, InfoGAN's MNIST networks) at half the paper's width, batch 64, Adam 1e-3 for G and 2e-4
# for D as Chen et al. trained them, 5,000 steps. Measured on mnist5k, seed 0, 2,000 samples against mnist5k (one
# thread each, two runs side by side on a 2-core CPU): the DCGAN at batch 64 for 10,000 steps FID 130; these nets
# at width 64 for 3,000 steps FID 24 (confident 0.87), width 64 for 1,800 steps (about five minutes at two
# threads) 44, width 32 for 5,000 steps (about five minutes) 21 with 88 % of samples read with confidence > 0.9;
# the same with a linear learning-rate decay 30; the tutorial nets (3x3 convolutions, max-pooling; not shipped) at
# width 32 for 5,000 steps 77, at 1.8x the time per step. docs/results.md has the notes.
_DENSE: dict[str, Any] = {"steps": 5000, "batch_size": 64, "lr_g": 1e-3, "lr_d": 2e-4}
# On the full MNIST and Fashion-MNIST (60,000 images) the same nets keep improving well past 5,000 steps. Measured
# on one run each (seed 0, one thread, checkpoints every 2,500 steps, scored against the training split with 2,000
# samples, 10,000 at 5,000 and 15,000 steps): MNIST FID 32.5 / 18.7 / 22.3 / 17.5 / 21.4 / 12.0 at 2,500-15,000
# steps, recall 0.69 -> 0.76; Fashion-MNIST 43.7 / 33.4 / 20.0 / 14.3 / 10.5 / 14.1, recall 0.35 -> 0.55. So the full
# sets train 15,000 steps (about 14 minutes at two threads on a 2-core CPU).
_DENSE_FULL: dict[str, Any] = {"steps": 15000}
FULL28 = ("mnist", "fashion-mnist")
#: the data sets of 1x28x28 grey images whose default model is dcgan-dense
GREY28 = ("mnist5k", *FULL28)
#: default_model's rule in words, for --help
DEFAULT_MODELS = (("dcgan-dense", "unconditional 28x28 grey MNIST-family images (gan, infogan)"),
                  ("mlp", "toy data"), ("dcgan", "other images"))

# SAGAN as Zhang et al. trained it: TTUR (Heusel et al. 2017), Adam 1e-4 for G and 4e-4 for D with beta2 0.9 (and
# beta1 0, the hinge loss: `--beta1 0 --loss hinge`, knobs with plain defaults)
_SAGAN: dict[str, Any] = {"lr_g": 1e-4, "lr_d": 4e-4, "beta2": 0.9}

# 2-D toys: wide MLPs, large batches, and R1 (Mescheder et al. 2018) so that the non-saturating GAN covers
# every mode of ring8 and grid25 instead of hopping between them; sampling from an EMA of G's weights, because
# G's modes keep circling their targets by about the 3-std radius of ring8 (0.06): without it 2 of 10 seeds
# missed a mode by that criterion (bench/stability.py), with it all 10 covered all 8 (HQ 0.72-0.81 against
# 0.28-0.67).
_TOY: dict[str, Any] = {"steps": 4000, "batch_size": 256, "d_steps": 1, "lr_g": 5e-4, "lr_d": 5e-4,
                        "beta2": 0.9, "ema": 0.999, "r1": 0.1, "z_dim": TOY_Z_DIM, "width": 256,
                        "mode_seeking": 0.0}

# grid25 with three hidden layers and four times the steps. Measured with the toy recipe (seed 0, 2,500 samples,
# EMA G): two hidden layers covered 4 of 25 modes at 4,000 steps and 5 at 12,000; their samples filled the square
# and piled up along its edges. Three hidden layers: 5 modes at 3,000 steps, 13-20 at 6,000-9,000, 25 at 12,000.
# Seed 1 had 24 at 12,000 (one mode held 15 of the 20 high-quality samples needed), then 25 at 14,000 and 16,000
# (fewest per mode: 61, 75; HQ 0.84, 0.89). bench/stability.py has it over seeds.
_GRID25: dict[str, Any] = {"depth": 3, "steps": 16000}

# Class-conditional images: the mode-seeking term (Mao et al. 2019) at weight 0.3. Measured with the conditional
# DCGAN (one-hot label maps in D), 3,000 steps, `gankit evaluate --n 2000`: without it G drew nearly one image per
# class on MNIST (seed 0, recall 0.004); with it, over seeds 0-9, FID 52-70 / recall 0.68-0.74 / label accuracy
# 0.85-0.90 on MNIST and 121-150 / 0.13-0.19 / 0.72-0.78 on Fashion-MNIST; at 1.0 the labels blur (seed 0: 0.76
# and 0.67). docs/results.md has the notes.
_CONDITIONAL_IMAGE: dict[str, Any] = {"mode_seeking": 0.3}

# Coloured MNIST / Fashion-MNIST (coloured-mnist, coloured-fashion) with the DCGAN at 32x32 and 64x64, 3 channels.
# Measured on the 2-core CPU, one thread, one D update on a real and a fake batch plus one G update: 28x28 grey
# with the image recipe (G/D widths 64/32, batch 32) 66 ms; 32x32 colour at 64/32 116 ms, so 32x32 keeps the image
# recipe; 64x64 colour at 64/32 830 ms against 334 ms at 32/32 (G's 8w = 512 channels at 4x4), so 64x64 halves G.
_COLOUR: dict[int, dict[str, Any]] = {32: {"width": 64, "d_width": 32}, 64: {"width": 32, "d_width": 32}}
COLOUR_DATASETS = ("coloured-mnist", "coloured-fashion")

# WGAN-GP as Gulrajani et al. trained it: five critic steps per generator step, Adam 1e-4 with beta2 0.9.
_WGAN_GP: dict[str, Any] = {"d_steps": 5, "lr_g": 1e-4, "lr_d": 1e-4, "beta2": 0.9, "r1": 0.0}


def default_model(dataset: str, *, method: str = "gan", conditional: bool = False, image_size: int | None = None,
                  channels: int | None = None) -> str:
    """The model a run gets when it names none: the MLP on toy data and vectors; dcgan-dense for the plain GAN
    (and InfoGAN, whose paper nets these are) on unconditional 28x28 grey MNIST-family images; else DCGAN."""
    if is_toy(dataset) or dataset == PYTHON_DATA[1]:
        return "mlp"
    grey28 = _canonical(dataset) in GREY28 and image_size in (None, 28) and channels in (None, 1)
    if grey28 and method in ("gan", "infogan") and not conditional:
        return "dcgan-dense"
    return "dcgan"


def recipe(dataset: str, model: str, loss: str, conditional: bool = False, method: str = "gan",
           image_size: int | None = None) -> dict[str, Any]:
    """The default values of RECIPE_FIELDS for this data, model, loss, conditioning, method and image size."""
    toy = is_toy(dataset) or dataset == PYTHON_DATA[1]  # vectors given from Python train like the toys
    values = dict(_TOY if toy else _IMAGE)
    if model == "dcgan-dense":
        values.update(_DENSE)
        if _canonical(dataset) in FULL28:
            values.update(_DENSE_FULL)
    if dataset == "grid25":
        values.update(_GRID25)
    if conditional and not toy:
        values.update(_CONDITIONAL_IMAGE)
    if not toy and model in _IMAGE_WIDTH:
        values["width"], values["d_width"] = _IMAGE_WIDTH[model]
    if model == "sagan" and not toy:
        values.update(_SAGAN)
    if model == "dcgan" and dataset in COLOUR_DATASETS and image_size in _COLOUR:
        values.update(_COLOUR[image_size])
    values.update(_method_recipe(method, toy=toy, model=model))  # the method's own, over the data family's
    if loss == "wgan-gp":
        values.update(_WGAN_GP)
    if "width" in values:
        values.setdefault("d_width", values["width"])
    return values


def resolve(cfg: TrainConfig) -> TrainConfig:
    """`cfg` with its model chosen (when unset) and every unset recipe field filled in; fields left None after this
    mean "the model's default"."""
    if cfg.model is None:
        cfg = cfg.replace(model=default_model(cfg.dataset, method=cfg.method, conditional=cfg.conditional,
                                              image_size=cfg.image_size, channels=cfg.channels))
    values = recipe(cfg.dataset, cfg.model, cfg.loss, cfg.conditional, cfg.method, cfg.image_size)
    if cfg.reuse_fake or (cfg.batch_size is not None and cfg.batch_size % 2):
        values["mode_seeking"] = 0.0  # the term needs its own pairs of z in G's update: off unless asked for
    if cfg.width is not None:  # an explicit --width sizes both networks unless --d-width says otherwise
        values["d_width"] = cfg.width
    changes = {name: values.get(name) for name in RECIPE_FIELDS if getattr(cfg, name) is None}
    return cfg.replace(**changes)


def _method_recipe(name: str, *, toy: bool, model: str) -> dict[str, Any]:
    """The recipe values a registered method sets for itself (Method.recipe_values; an unknown name is refused
    where it is built)."""
    from .errors import ConfigError
    from .methods import get_method

    try:
        return get_method(name).recipe_values(toy=toy, model=model)
    except ConfigError:
        return {}


def describe() -> str:
    """The recipes in words, for `gankit train --help`."""
    def fmt(d: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in d.items())
    widths = ", ".join(f"{m} {g}/{d}" for m, (g, d) in _IMAGE_WIDTH.items())
    return (f"model: {', '.join(f'{m} on {d}' for m, d in DEFAULT_MODELS)}. dcgan-dense: {fmt(_DENSE)} "
            f"({fmt(_DENSE_FULL)} on {' and '.join(FULL28)}). "
            f"images: {fmt(_IMAGE)}; widths G/D: {widths}; conditional images: {fmt(_CONDITIONAL_IMAGE)}. "
            f"toys: {fmt(_TOY)}; grid25: {fmt(_GRID25)}. sagan: {fmt(_SAGAN)}. wgan-gp: {fmt(_WGAN_GP)}. "
            + " ".join(f"coloured sets at {k}x{k} (dcgan): {fmt(v)}." for k, v in _COLOUR.items()) + " "
            + " ".join(f"--method {m}: {fmt(v)}." for m, v in _method_recipes().items()))


def _method_recipes() -> dict[str, dict[str, Any]]:
    from .methods import get_method, method_names

    return {m: get_method(m).recipe_values(toy=False, model="dcgan") for m in method_names()
            if get_method(m).recipe_values(toy=False, model="dcgan")}
