"""Adversarial examples: tiny, computed perturbations that fool a classifier, and the random control of the
same size that does not.

    from gankit.attacks import run_attack
    report = run_attack(dataset="mnist", attack="pgd-l2", eps=[0.5, 1, 2, 3], out="runs/attack-mnist")

Modules: `attacks` (pure FGSM / PGD-L-inf / PGD-L2 / random control on [0, 1] images), `curve` (success and
accuracy against eps), `figures` (curves and gallery), `hardening` (adversarial training), `config`
(`AttackConfig`, torch-free), `run` (`run_attack`), `commands` (the `gankit attack` verb).
"""

from .config import ATTACK_NAMES, ATTACKS, AttackConfig

_LAZY = {  # torch loads on first use, so building the CLI parser stays fast
    "as_01": "attacks", "fgsm": "attacks", "pgd": "attacks", "pgd_l2": "attacks", "pgd_linf": "attacks",
    "project": "attacks", "random_control": "attacks", "perturbation_stats": "attacks",
    "Curve": "curve", "EpsResult": "curve", "attack_curve": "curve", "run_attack": "run",
    "adversarial_finetune": "hardening",
}

__all__ = ["ATTACKS", "ATTACK_NAMES", "AttackConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gankit.attacks' has no attribute {name!r}")
