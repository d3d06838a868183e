"""Adversarial examples: the attacks' guarantees (eps 0, budget, valid range), their strength (rising with eps,
PGD >= FGSM, far above the same-norm random control) on the shipped MNIST classifier, and `gankit attack`."""

import json

import pytest
import torch
from helpers import gk
from PIL import Image

from gankit.attacks import (AttackConfig, as_01, attack_curve, fgsm, perturbation_stats, pgd_l2, pgd_linf,
                            random_control, run_attack)
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.evaluation.classifier import file_sha256, load_classifier

STEPS = 10  # PGD steps in the fast tests (the CLI's default is 40); enough to fool this classifier
TOL = 1e-5  # float tolerance on budgets, in [0, 1] pixel units


def _frozen(dataset):
    net = load_classifier(dataset).model.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return as_01(net)


@pytest.fixture(scope="module")
def model():
    return _frozen("mnist")


@pytest.fixture(scope="module")
def digits():
    """96 built-in MNIST digits (all classes) in [0, 1]: offline, so these tests always run."""
    ds = load_dataset("mnist5k", n=96, seed=1)
    return (ds.x + 1) / 2, ds.y


@pytest.fixture(scope="module")
def l2_curve(model, digits):
    x, y = digits
    return attack_curve(model, x, y, "pgd-l2", [0, 1, 2, 3], steps=STEPS)


@pytest.fixture(scope="module")
def linf_curves(model, digits):
    x, y = digits
    return {a: attack_curve(model, x, y, a, [0.05, 0.2], steps=STEPS) for a in ("fgsm", "pgd-linf")}


def test_eps_zero_changes_nothing(model, digits, l2_curve):
    x, y = digits
    x, y = x[:16], y[:16]
    for x_adv in (fgsm(model, x, y, 0.0), pgd_linf(model, x, y, 0.0, steps=3), pgd_l2(model, x, y, 0.0, steps=3),
                  pgd_l2(model, x, y, 0.0, steps=3, target=8), random_control(x, torch.zeros(len(x)))):
        assert torch.equal(x_adv, x)
    r = l2_curve.results[0]
    assert r.eps == 0 and r.success_rate == 0 and r.random_control_success_rate == 0
    assert r.accuracy == r.random_control_accuracy == l2_curve.clean_accuracy
    assert r.mean_l2 == 0 and r.mean_linf == 0 and r.mean_psnr_db is None


def test_success_rises_with_eps(l2_curve, linf_curves):
    for curve in (l2_curve, *linf_curves.values()):
        rates = [r.success_rate for r in curve.results]
        accs = [r.accuracy for r in curve.results]
        assert all(a <= b for a, b in zip(rates, rates[1:])), rates
        assert all(a >= b for a, b in zip(accs, accs[1:])), accs
    rates = [r.success_rate for r in l2_curve.results]
    assert rates[0] == 0 and rates[-1] > 0.9, rates


def test_pgd_at_least_as_strong_as_fgsm_at_equal_budget(linf_curves):
    for f, p in zip(linf_curves["fgsm"].results, linf_curves["pgd-linf"].results):
        assert f.eps == p.eps and p.mean_linf <= f.eps + TOL
        assert p.success_rate >= f.success_rate, (f.eps, f.success_rate, p.success_rate)
    assert linf_curves["pgd-linf"].results[-1].success_rate > 0.9


def test_random_control_of_the_same_norm_fails_where_pgd_succeeds(l2_curve):
    strong = [r for r in l2_curve.results if r.success_rate > 0.9]
    assert strong, [r.success_rate for r in l2_curve.results]
    r = strong[0]
    assert r.random_control_success_rate < 0.05, r
    assert r.random_control_mean_l2 == pytest.approx(r.mean_l2, rel=1e-4)  # the same size, another direction


def test_perturbations_stay_in_range_and_budget(model, digits, l2_curve, linf_curves):
    x, y = digits
    checks = [(o.x_adv, o.result.eps, "l2") for o in l2_curve.outcomes]
    checks += [(o.x_adv, o.result.eps, "linf") for c in linf_curves.values() for o in c.outcomes]
    checks.append((pgd_l2(model, x[:32], y[:32], 3.0, steps=STEPS, target=8), 3.0, "l2"))
    checks.append((pgd_linf(model, x[:32], y[:32], 0.3, steps=STEPS, random_start=True,
                            generator=torch.Generator().manual_seed(0)), 0.3, "linf"))
    for x_adv, eps, norm in checks:
        xs = x[:len(x_adv)]
        assert x_adv.min() >= 0 and x_adv.max() <= 1
        stats = perturbation_stats(xs, x_adv)
        assert stats[norm].max() <= eps + TOL, (norm, eps, float(stats[norm].max()))
    for o in l2_curve.outcomes:  # the random control: valid images with exactly the attack's norm per image
        assert o.x_rand.min() >= 0 and o.x_rand.max() <= 1
        torch.testing.assert_close(perturbation_stats(x, o.x_rand)["l2"], perturbation_stats(x, o.x_adv)["l2"],
                                   atol=1e-4, rtol=1e-4)


def test_random_control_hits_the_norm_despite_clipping(digits):
    x, _ = digits
    x = x[:8]
    norms = torch.tensor([0.0, 0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
    xr = random_control(x, norms, generator=torch.Generator().manual_seed(0))
    assert xr.min() >= 0 and xr.max() <= 1
    torch.testing.assert_close(perturbation_stats(x, xr)["l2"].float(), norms, atol=1e-4, rtol=1e-4)
    # Without the rescaling, clipping on the black background would lose a large part of the noise:
    u = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    naive = (x + u / u.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * norms.view(-1, 1, 1, 1)).clamp(0, 1)
    assert (perturbation_stats(x, naive)["l2"][1:] < 0.9 * norms[1:]).all()


def test_targeted_every_3_reads_as_8(model):
    ds = load_dataset("mnist5k")
    x, y = (ds.x[ds.y == 3][:24] + 1) / 2, ds.y[ds.y == 3][:24]
    curve = attack_curve(model, x, y, "pgd-l2", [0.5, 3.0], steps=STEPS, target=8)
    weak, strong = curve.results
    assert strong.success_rate > 0.9 and strong.success_rate >= weak.success_rate
    assert strong.random_control_success_rate < 0.05
    assert (curve.outcomes[1].probs_adv.argmax(1) == 8).float().mean() > 0.9  # they now read as 8, not just "not 3"


def test_real_mnist_test_images_pgd_vs_random_control(shared_data):
    test = load_dataset("mnist", split="test", data_dir=shared_data, n=96, seed=0)
    curve = attack_curve(_frozen("mnist"), (test.x + 1) / 2, test.y, "pgd-l2", [2.0], steps=STEPS)
    (r,) = curve.results
    assert r.success_rate > 0.9 and r.random_control_success_rate < 0.05, r
    assert r.mean_l2 <= 2.0 + TOL


def test_real_fashion_test_images_direction_not_size(shared_data):
    """The Fashion classifier (92.5 %) has more images near a boundary, so random noise of L2 norm 1 flips a few
    of them; the computed direction flips an order of magnitude more."""
    test = load_dataset("fashion-mnist", split="test", data_dir=shared_data, n=96, seed=0)
    curve = attack_curve(_frozen("fashion-mnist"), (test.x + 1) / 2, test.y, "pgd-l2", [1.0], steps=STEPS)
    (r,) = curve.results
    assert r.success_rate > 0.8 and r.random_control_success_rate < 0.1 * r.success_rate, r


def test_cli_writes_attack_json_and_figures(tmp_path):
    out = tmp_path / "att"
    r = gk("attack", "--dataset", "mnist5k", "--attack", "fgsm", "--eps", "0,0.1,0.2", "--n", "48", "--out", out)
    assert "success" in r.stdout
    report = json.loads((out / "attack.json").read_text())
    assert report["pixel_range"] == [0.0, 1.0] and report["attack"] == "fgsm" and report["n"] == 48
    assert [p["eps"] for p in report["results"]] == [0.0, 0.1, 0.2]
    for p in report["results"]:
        for key in ("success_rate", "accuracy", "random_control_success_rate", "mean_l2", "mean_linf"):
            assert isinstance(p[key], float), key
        assert p["mean_linf"] <= p["eps"] + TOL
    assert report["results"][0]["success_rate"] == 0 < report["results"][2]["success_rate"]
    for name in ("curves.png", "gallery.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 300 and im.size[1] > 200


def test_cli_rejects_bad_attack_and_negative_eps(tmp_path):
    for args, words in ((["--attack", "deepfool"], "unknown attack 'deepfool'"),
                        (["--eps=-0.5,1"], "eps must be finite and >= 0")):
        r = gk("attack", "--dataset", "mnist5k", *args, "--out", tmp_path / "x", check=False)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()


def test_config_names_bad_settings():
    with pytest.raises(ConfigError, match="unknown attack setting"):
        run_attack(dataset="mnist5k", epsilon=[1.0], out="unused")
    with pytest.raises(ConfigError, match="target and source"):
        AttackConfig(target=3, source=3)
    with pytest.raises(ConfigError, match="give target too"):
        AttackConfig(source=3)
    with pytest.raises(ConfigError, match=r"exceeds the \[0, 1\] pixel range"):
        AttackConfig(attack="pgd-linf", eps=[0.1, 2])
    with pytest.raises(ConfigError, match="eps must be finite"):
        AttackConfig(eps=[float("nan")])
    assert AttackConfig(attack="fgsm").eps == (0.05, 0.1, 0.2, 0.3)
    assert AttackConfig(eps=[2, 0.5, 2]).eps == (0.5, 2.0)


def test_adversarial_training_writes_a_hardened_classifier_and_its_curve(tmp_path):
    report = run_attack(dataset="mnist5k", attack="pgd-l2", eps=[1.0], n=48, steps=4, out=tmp_path, adv_train=True,
                        adv_train_n=128, adv_epochs=1, adv_steps=2, log=None)
    adv = report["adversarial_training"]
    assert adv["eps"] == 1.0 and adv["train_n"] == 128 and len(adv["results"]) == 1
    path = tmp_path / adv["classifier_file"]
    hardened = load_classifier("mnist", path=path)
    assert file_sha256(path) != load_classifier("mnist").sha256  # the weights moved
    assert hardened.test_accuracy == pytest.approx(adv["clean_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_adversarial_training_shifts_the_curve_right(tmp_path, shared_data):
    """Fine-tuning on PGD-L2 examples (eps 1.5, 10,000 training digits, 2 epochs) makes PGD-L2 at eps 1 fool
    far fewer test digits than it fools on the shipped classifier. Several minutes."""
    report = run_attack(dataset="mnist", data_dir=shared_data, attack="pgd-l2", eps=[1.0, 2.0], n=300, steps=20,
                        out=tmp_path, adv_train=True, adv_eps=1.5, log=None)
    before = report["results"][0]["success_rate"]
    after = report["adversarial_training"]["results"][0]["success_rate"]
    assert after < before - 0.2, (before, after)
    assert report["adversarial_training"]["clean_accuracy"] > 0.95
