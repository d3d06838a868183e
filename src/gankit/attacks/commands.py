"""The `gankit attack` verb: a thin layer over `gankit.attacks.run_attack`."""

from __future__ import annotations

import argparse
from typing import Any

from .. import progress


def _eps_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.5,1,2,3, got {text!r}") from None


def add_parsers(sub: Any) -> None:
    from .config import ATTACK_NAMES, DATASETS, DEFAULT_EPS, AttackConfig

    d = AttackConfig()
    p = sub.add_parser(
        "attack", help="adversarial examples: fool a shipped classifier with perturbations no one can see",
        description="Attack the shipped MNIST / Fashion-MNIST classifier with FGSM or PGD (L-inf or L2), "
        "untargeted or targeted, at every eps; score each perturbation against random noise of the same L2 norm "
        "per image; write DIR/attack.json (success_rate, accuracy, random_control_success_rate, mean L2 / L-inf "
        "/ PSNR per eps), DIR/curves.png and DIR/gallery.png. Budgets are in [0, 1] pixel units (pixel / 255; "
        "the field's convention: MNIST L-inf 0.1-0.3, L2 0.5-3); adversarial images are clamped to [0, 1]. "
        "Success rates are over the images the classifier gets right before the attack; accuracy over all.",
        epilog="Example: gankit attack --dataset mnist --attack pgd-l2 --eps 0.5,1,2,3 --out runs/attack-mnist. "
        "Targeted: --target 8 --source 3 (every 3 read as 8).")
    p.add_argument("--dataset", default=d.dataset,
                   help=f"{', '.join(DATASETS)}: the test split (mnist5k: the built-in training digits, offline) "
                   f"(default: {d.dataset})")
    p.add_argument("--attack", default=d.attack,
                   help=f"{', '.join(ATTACK_NAMES)} (fgsm and pgd-linf: L-inf budget; pgd-l2: L2) "
                   f"(default: {d.attack})")
    p.add_argument("--eps", type=_eps_list, metavar="E1,E2,...",
                   help=f"budgets in [0, 1] pixel units, e.g. 0.5,1,2,3 (default: {_fmt(DEFAULT_EPS['l2'])} for L2, "
                   f"{_fmt(DEFAULT_EPS['linf'])} for L-inf)")
    p.add_argument("--out", help="output folder (default: runs/attack-DATASET-ATTACK)")
    p.add_argument("--data-dir", help="folder with the IDX files (default: $GANKIT_DATA, else the cache)")
    p.add_argument("--n", type=int, default=d.n, help="test images to attack: a seeded random subset; "
                   f"10000 for the whole split (default: {d.n})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"PGD iterations (default: {d.steps})")
    p.add_argument("--rel-step", type=float, default=d.rel_step, metavar="FACTOR",
                   help=f"PGD step size = FACTOR x eps / steps (default: {d.rel_step})")
    p.add_argument("--target", type=int, help="targeted attack: make every image read as this class")
    p.add_argument("--source", type=int, help="with --target: attack only images of this class")
    p.add_argument("--seed", type=int, default=d.seed, help=f"image subset and random control (default: {d.seed})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"images per attack batch (default: {d.batch_size})")
    p.add_argument("--classifier", help="attack this classifier file (e.g. an adv-trained one) instead of the "
                   "shipped one")
    p.add_argument("--gallery-eps", type=float, help="eps of the gallery (default: the smallest that fools at "
                   "least half the images, else the largest)")
    p.add_argument("--gallery-n", type=int, default=d.gallery_n, help=f"triptychs (default: {d.gallery_n})")
    g = p.add_argument_group("adversarial training")
    g.add_argument("--adv-train", action="store_true", help="also fine-tune the classifier on PGD examples of "
                   "the training split, attack it the same way and draw its curve beside the standard one")
    g.add_argument("--adv-eps", type=float, help="training budget (default: the median of --eps)")
    g.add_argument("--adv-epochs", type=int, default=d.adv_epochs, help=f"epochs of adversarial training (default: {d.adv_epochs})")
    g.add_argument("--adv-steps", type=int, default=d.adv_steps, help=f"PGD steps per batch (default: {d.adv_steps})")
    g.add_argument("--adv-train-n", type=int, default=d.adv_train_n,
                   help=f"training images, a seeded subset (default: {d.adv_train_n}; 60000: all)")
    g.add_argument("--adv-lr", type=float, default=d.adv_lr, help=f"Adam learning rate (default: {d.adv_lr})")
    progress.add_flag(p)
    p.set_defaults(func=cmd_attack)


def _fmt(eps: tuple[float, ...]) -> str:
    return ",".join(f"{e:g}" for e in eps)


def cmd_attack(args: argparse.Namespace) -> int:
    from .config import AttackConfig
    from .run import format_table, run_attack

    settings = {k: v for k, v in vars(args).items() if k not in ("func", "verb", "no_progress", "draws_bars")}
    if settings["out"] is None:
        settings["out"] = f"runs/attack-{args.dataset}-{args.attack}"
    cfg = AttackConfig(**settings)  # validates every flag before any data or network is loaded
    report = run_attack(cfg, log=lambda m: print(f"gankit: {m}", flush=True))
    print(format_table(report))
    return 0
