"""`run_attack`: the library function behind `gankit attack`. Loads the data and the shipped classifier, draws
the curves for the attack and its random control, optionally hardens the classifier by adversarial training and
draws its curve too, and writes attack.json, curves.png and gallery.png into `out`."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from .config import DEFINITIONS, PIXEL_RANGE, AttackConfig, eps_unit, eps_text
from .curve import Curve, attack_curve, predict

def _load_images(cfg: AttackConfig) -> tuple[torch.Tensor, torch.Tensor, list[str] | None, str]:
    """The images to attack, in [0, 1], with labels, class names and the split they come from."""
    from ..data import load_dataset

    if cfg.dataset == "mnist5k":  # offline fallback: the classifier's own training digits
        ds, split = load_dataset("mnist5k"), "train (mnist5k: digits the MNIST classifier was trained on)"
    else:
        ds, split = load_dataset(cfg.dataset, split="test", data_dir=cfg.data_dir), "test"
    x, y = ds.x, ds.y
    if cfg.source is not None:
        keep = y == cfg.source
        x, y = x[keep], y[keep]
    if cfg.n is not None and cfg.n < len(x):  # seeded subset in original order: all classes, reproducible
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))[:cfg.n].sort().values
        x, y = x[idx], y[idx]
    return (x + 1) / 2, y, ds.class_names, split


def _record(r: Any) -> dict[str, Any]:
    """An EpsResult as JSON: NaN (a rate over no images) becomes null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}


def _pick_gallery_eps(cfg: AttackConfig, curve: Curve) -> float:
    if cfg.gallery_eps is not None:
        return cfg.gallery_eps
    for r in curve.results:
        if r.success_rate >= 0.5:
            return r.eps
    return curve.results[-1].eps


def run_attack(config: AttackConfig | None = None, *, log: Callable[[str], Any] | None = print,
               **settings: Any) -> dict[str, Any]:
    """Run an attack and write its files; returns what attack.json holds.

        run_attack(dataset="mnist", attack="pgd-l2", eps=[0.5, 1, 2, 3], out="runs/attack-mnist")

    Settings are `AttackConfig` fields, given as a config or as keywords (keywords override the config)."""
    from ..evaluation.classifier import accuracy, load_classifier, save_classifier
    from .attacks import as_01
    from .figures import plot_curves, plot_gallery
    from .hardening import adversarial_finetune

    known = {f.name for f in fields(AttackConfig)} - {"extra"}
    unknown = {k: v for k, v in settings.items() if k not in known}
    cfg = replace(config or AttackConfig(), **{k: v for k, v in settings.items() if k in known}, extra=unknown)
    say = log or (lambda _m: None)
    t_start = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    fn = load_classifier(cfg.dataset, path=cfg.classifier)
    net = fn.model.eval()
    for p in net.parameters():  # attacks need gradients w.r.t. the images only
        p.requires_grad_(False)
    x, y, class_names, split = _load_images(cfg)
    if len(x) == 0:
        raise ConfigError(f"no {cfg.dataset} images of class {cfg.source} to attack")
    kind = "untargeted" if cfg.target is None else (f"targeted -> {cfg.target}"
                                                    + (f", sources {cfg.source}" if cfg.source is not None else ""))
    say(f"{cfg.attack} ({kind}) on {len(x)} {cfg.dataset} {split.split(' ')[0]} images, eps {eps_text(cfg.eps)} "
        f"({'L2' if cfg.norm == 'l2' else 'L-inf'}, pixels in [0, 1])")
    curve_kw = dict(steps=cfg.steps, rel_step=cfg.rel_step, target=cfg.target, seed=cfg.seed,
                    batch_size=cfg.batch_size, log=say)
    scorable = predict(as_01(net), x, cfg.batch_size).argmax(1) == y
    if cfg.target is not None:
        scorable &= y != cfg.target
    if not scorable.any():
        raise ConfigError("the classifier gets none of the selected images right (or all are already the "
                          "target): no success rate to measure")
    curve = attack_curve(as_01(net), x, y, cfg.attack, list(cfg.eps), **curve_kw)
    curves = {"standard": curve}

    hardened: dict[str, Any] | None = None
    if cfg.adv_train:
        from ..data import load_dataset

        adv_eps = cfg.adv_eps if cfg.adv_eps is not None else float(torch.tensor(cfg.eps).median())
        train = load_dataset(cfg.dataset, split="train", data_dir=cfg.data_dir, n=cfg.adv_train_n, seed=cfg.seed)
        say(f"adversarial training: PGD-{cfg.adv_steps} ({cfg.norm}, eps {adv_eps:g}) on {len(train)} training "
            f"images, {cfg.adv_epochs} epoch(s)")
        t0 = time.perf_counter()
        model = adversarial_finetune(net, (train.x + 1) / 2, train.y, norm=cfg.norm, eps=adv_eps,
                                     steps=cfg.adv_steps, epochs=cfg.adv_epochs, lr=cfg.adv_lr, seed=cfg.seed,
                                     log=say)
        train_s = time.perf_counter() - t0
        for p in model.parameters():
            p.requires_grad_(False)
        if cfg.dataset == "mnist5k":  # no test split offline: the attacked digits are all there is
            test_acc, acc_on = accuracy(model, x * 2 - 1, y), "attacked images"
        else:
            test = load_dataset(cfg.dataset, split="test", data_dir=cfg.data_dir)
            test_acc, acc_on = accuracy(model, test.x, test.y), "full test split"
        path = save_classifier(model, out / "adv-trained-classifier.safetensors", dataset=fn.dataset,
                               test_accuracy=test_acc, adversarial_training={
                                   "norm": cfg.norm, "eps": adv_eps, "steps": cfg.adv_steps,
                                   "epochs": cfg.adv_epochs, "train_n": len(train), "lr": cfg.adv_lr,
                                   "seed": cfg.seed, "from_sha256": fn.sha256})
        say(f"adv-trained classifier: clean accuracy {100 * test_acc:.2f}% ({acc_on}) -> {path}")
        say("attacking the adv-trained classifier:")
        hard_curve = attack_curve(as_01(model), x, y, cfg.attack, list(cfg.eps), **curve_kw)
        curves["adv-trained"] = hard_curve
        hardened = {"eps": adv_eps, "norm": cfg.norm, "steps": cfg.adv_steps, "epochs": cfg.adv_epochs,
                    "train_n": len(train), "lr": cfg.adv_lr, "train_time_s": round(train_s, 1),
                    "clean_accuracy": test_acc, "clean_accuracy_on": acc_on, "classifier_file": path.name,
                    "clean_accuracy_attacked_images": hard_curve.clean_accuracy,
                    "n_scored": int(hard_curve.scored.sum()),
                    "results": [_record(r) for r in hard_curve.results]}

    eps_label = f"eps ({'L2' if cfg.norm == 'l2' else 'L-inf'} norm, pixels in [0, 1])"
    title = f"{cfg.attack} ({kind}) on {len(x)} {cfg.dataset} images"
    curves_png = plot_curves(curves, out / "curves.png", title=title, eps_label=eps_label)
    g_eps = _pick_gallery_eps(cfg, curve)
    outcome = curve.outcomes[list(cfg.eps).index(g_eps)]
    gallery_png, g_idx = plot_gallery(curve, outcome, out / "gallery.png", n=cfg.gallery_n,
                                      class_names=class_names if cfg.dataset == "fashion-mnist" else None,
                                      title=f"{cfg.attack}, eps {g_eps:g} ({kind})")
    files = {"json": "attack.json", "curves": curves_png.name, "gallery": gallery_png.name}
    if hardened:
        files["adv_trained_classifier"] = hardened["classifier_file"]
    report = {
        "dataset": cfg.dataset, "split": split, "attack": cfg.attack, "norm": cfg.norm,
        "targeted": cfg.target is not None, "target": cfg.target, "source": cfg.source,
        "n": len(x), "n_scored": int(curve.scored.sum()), "clean_accuracy": curve.clean_accuracy,
        "pixel_range": list(PIXEL_RANGE), "eps_unit": eps_unit(cfg.norm),
        "steps": None if cfg.attack == "fgsm" else cfg.steps,
        "step_size": None if cfg.attack == "fgsm" else f"{cfg.rel_step:g} * eps / {cfg.steps}",
        "seed": cfg.seed, "classifier": fn.protocol(), "definitions": DEFINITIONS,
        "results": [_record(r) for r in curve.results],
        "adversarial_training": hardened,
        "gallery": {"eps": g_eps, "indices": g_idx},
        "config": cfg.to_dict(), "files": files, "time_s": round(time.perf_counter() - t_start, 1),
    }
    (out / "attack.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    say(f"-> {out / 'attack.json'}, {curves_png}, {gallery_png}")
    return report


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def format_table(report: dict[str, Any]) -> str:
    """The curve(s) as a plain-text table."""
    lines = [f"{'eps':>6} {'success':>8} {'random':>8} {'accuracy':>9} {'mean L2':>8} {'mean Linf':>9} {'PSNR dB':>8}"]
    blocks = [("", report["results"])]
    if report.get("adversarial_training"):
        blocks.append(("adv-trained", report["adversarial_training"]["results"]))
    for name, rows in blocks:
        if name:
            lines.append(name + ":")
        for r in rows:
            psnr = f"{r['mean_psnr_db']:.1f}" if r["mean_psnr_db"] is not None else "inf"
            lines.append(f"{r['eps']:>6g} {_pct(r['success_rate']):>8} {_pct(r['random_control_success_rate']):>8}"
                         f" {_pct(r['accuracy']):>9} {r['mean_l2']:>8.3f} {r['mean_linf']:>9.3f} {psnr:>8}")
    return "\n".join(lines)


__all__ = ["format_table", "run_attack"]
