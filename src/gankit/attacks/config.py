"""The settings of an attack run (`AttackConfig`) and the names they are checked against. No torch here, so the
command line can build its parser without loading it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

ATTACKS: dict[str, str] = {"fgsm": "linf", "pgd-linf": "linf", "pgd-l2": "l2"}  # name -> norm of its budget
ATTACK_NAMES: tuple[str, ...] = tuple(ATTACKS)
DATASETS = ("mnist", "fashion-mnist", "mnist5k")
DEFAULT_EPS = {"l2": (0.5, 1.0, 2.0, 3.0), "linf": (0.05, 0.1, 0.2, 0.3)}  # [0, 1] pixel units
PIXEL_RANGE = (0.0, 1.0)


@dataclass
class AttackConfig:
    """Everything that decides an attack run; saved into attack.json. Budgets are in [0, 1] pixel units."""

    dataset: str = "mnist"
    attack: str = "pgd-l2"
    eps: tuple[float, ...] | None = None  # None: DEFAULT_EPS of the attack's norm
    out: str = "runs/attack"
    n: int | None = 1000  # a seeded random subset of the test split; None: all of it
    data_dir: str | None = None
    steps: int = 40
    rel_step: float = 2.5  # PGD step = rel_step * eps / steps
    target: int | None = None
    source: int | None = None
    seed: int = 0
    batch_size: int = 500
    classifier: str | None = None  # a classifier file instead of the shipped one
    gallery_eps: float | None = None  # None: the smallest eps fooling >= half the images, else the largest
    gallery_n: int = 10
    adv_train: bool = False
    adv_eps: float | None = None  # None: the median of eps
    adv_epochs: int = 2
    adv_steps: int = 7
    adv_train_n: int | None = 10000
    adv_lr: float = 1e-3
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # not a setting; rejected if non-empty

    def __post_init__(self) -> None:
        if self.extra:
            raise ConfigError(f"unknown attack setting(s): {', '.join(sorted(self.extra))}")
        for name in ("out", "data_dir", "classifier"):  # paths may come as Path objects from Python callers
            if getattr(self, name) is not None:
                setattr(self, name, str(getattr(self, name)))
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r} for attack; choose one of {', '.join(DATASETS)}")
        if self.attack not in ATTACKS:
            raise ConfigError(f"unknown attack {self.attack!r}; choose one of {', '.join(ATTACK_NAMES)}")
        eps = DEFAULT_EPS[self.norm] if self.eps is None else self.eps
        if isinstance(eps, (int, float)):
            eps = (eps,)
        try:
            eps = tuple(float(e) for e in eps)
        except (TypeError, ValueError):
            raise ConfigError(f"eps must be numbers, got {self.eps!r}") from None
        if not eps:
            raise ConfigError("eps needs at least one value")
        for e in eps:
            if not (math.isfinite(e) and e >= 0):
                raise ConfigError(f"eps must be finite and >= 0, got {e:g}")
            if self.norm == "linf" and e > 1:
                raise ConfigError(f"an L-inf eps of {e:g} exceeds the [0, 1] pixel range (eps is in [0, 1] units)")
        self.eps = tuple(sorted(set(eps)))
        _positive("n", self.n, allow_none=True)
        _positive("steps", self.steps)
        _positive("batch_size", self.batch_size)
        _positive("gallery_n", self.gallery_n)
        _positive("adv_epochs", self.adv_epochs)
        _positive("adv_steps", self.adv_steps)
        _positive("adv_train_n", self.adv_train_n, allow_none=True)
        for name in ("rel_step", "adv_lr"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("target", "source"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int) and 0 <= v <= 9):
                raise ConfigError(f"{name} must be a class 0-9, got {v!r}")
        if self.source is not None and self.target is None:
            raise ConfigError("source selects the images of a targeted attack; give target too (e.g. source 3, "
                              "target 8: every 3 read as 8)")
        if self.target is not None and self.target == self.source:
            raise ConfigError(f"target and source are both {self.target}: nothing to change")
        for name in ("gallery_eps", "adv_eps"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be > 0, got {v}")
        if self.gallery_eps is not None and self.gallery_eps not in self.eps:
            raise ConfigError(f"gallery_eps {self.gallery_eps:g} is not one of eps ({eps_text(self.eps)})")

    @property
    def norm(self) -> str:
        return ATTACKS[self.attack]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["eps"] = list(self.eps or ())
        return d


def _positive(name: str, v: Any, allow_none: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def eps_text(eps: tuple[float, ...]) -> str:
    return ",".join(f"{e:g}" for e in eps)


def eps_unit(norm: str) -> str:
    name = "L2" if norm == "l2" else "L-inf"
    return (f"{name} norm of the perturbation, measured on images scaled to [0, 1] (pixel value / 255); the "
            f"classifier's inputs are in [-1, 1], where the same perturbation has twice the size")


DEFINITIONS = {
    "success_rate": "fraction of the images the classifier gets right before the attack (targeted: and whose "
                    "label is not the target) that the attack fools: the prediction changes (untargeted) or "
                    "becomes the target (targeted)",
    "accuracy": "fraction of all evaluated images classified correctly after the attack",
    "random_control": "each image gets Gaussian-direction noise, clipped to the valid range, whose L2 norm after "
                      "clipping equals that of its own adversarial perturbation (scale found by bisection); "
                      "random_control_success_rate and random_control_accuracy use the definitions above",
    "mean_l2": "mean over all evaluated images of ||x_adv - x||_2 in [0, 1] pixel units",
    "mean_linf": "mean over all evaluated images of max |x_adv - x|",
    "mean_psnr_db": "mean over perturbed images of 10 log10(1 / MSE), peak 1; null when no image was changed",
}
