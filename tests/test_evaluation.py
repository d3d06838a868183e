"""Evaluation end to end: the shipped feature networks, metrics on real images with known answers, and
`gankit evaluate` on runs and on real data."""

import json

import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from helpers import gk

import gankit
from gankit.data import load_dataset
from gankit.errors import CheckpointError, ConfigError
from gankit.evaluation import metrics
from gankit.evaluation.classifier import (CLASSIFIER_DATASETS, accuracy, file_sha256, load_classifier,
                                          save_classifier, shipped_path, train_classifier)
from gankit.evaluation.evaluate import evaluate_run, score_images




@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k")


@pytest.fixture(scope="module")
def net():
    return load_classifier("mnist")


@pytest.fixture(scope="module")
def halves(mnist5k, net):
    """Features of two disjoint halves of the shipped digits (2,500 each, same class balance)."""
    x = mnist5k.x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = x[perm[:2500]], x[perm[2500:]]
    return a, b, net.embed(a)[0], net.embed(b)[0]


@pytest.mark.parametrize("name", CLASSIFIER_DATASETS)
def test_shipped_classifiers(name):
    path = shipped_path(name)
    assert path.is_file() and path.stat().st_size < 2 * 1024 * 1024  # < 2 MB each, shipped as package data
    fn = load_classifier(name)
    assert fn.sha256 == file_sha256(path) and len(fn.sha256) == 64
    # the grey networks: 20 epochs at 28x28; the coloured ones (bench/colour_classifiers.py): 3 epochs at 32x32
    floor = {"mnist": 0.993, "fashion-mnist": 0.92, "coloured-mnist": 0.99, "coloured-fashion": 0.90}
    assert fn.test_accuracy >= floor[name]


@pytest.mark.parametrize("name", CLASSIFIER_DATASETS)
def test_shipped_classifier_accuracy_is_what_it_claims(name, shared_data):
    """Recompute the accuracy on the real test split: the stored number must be the network's."""
    fn = load_classifier(name)
    test = load_dataset(name, split="test", data_dir=shared_data, image_size=fn.model.input_shape[-1])
    acc = accuracy(fn.model, test.x, test.y)
    assert acc == pytest.approx(fn.test_accuracy, abs=1e-4)


def test_fid_of_real_halves_is_small_and_grows_with_noise_and_blur(halves, net):
    a, b, fa, fb = halves
    base = metrics.fid(fa, fb)
    noisy = [metrics.fid(net.embed((b + s * torch.randn(b.shape, generator=torch.Generator().manual_seed(1)))
                                   .clamp(-1, 1))[0], fa) for s in (0.1, 0.3, 0.6, 1.0)]
    blurred = []
    for k in (3, 5, 7):
        kernel = torch.ones(1, 1, k, k) / k**2
        blurred.append(metrics.fid(net.embed(F.conv2d(b + 1, kernel, padding=k // 2) - 1)[0], fa))
    assert base < 0.1 * noisy[-1] and base < 0.1 * blurred[-1]
    assert all(x < y for x, y in zip([base] + noisy, noisy)), (base, noisy)
    assert all(x < y for x, y in zip([base] + blurred, blurred)), (base, blurred)


def test_fid_matches_scipy_on_classifier_features(halves):
    _, _, fa, fb = halves
    live = (fa.var(0) > 1e-8) & (fb.var(0) > 1e-8)  # dead ReLU units are constant 0: they add nothing to FID
    assert metrics.fid(fa[:, live], fb[:, live]) == pytest.approx(metrics.fid(fa, fb), rel=1e-6)
    a, b = fa[:, live].double().numpy(), fb[:, live].double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = torch.from_numpy(a).T.cov().numpy(), torch.from_numpy(b).T.cov().numpy()
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * covmean).trace()
    assert metrics.fid(fa, fb) == pytest.approx(expected, rel=1e-3)


def test_precision_recall_real_vs_real_and_half_collapse(mnist5k, net):
    x, y = mnist5k.x, mnist5k.y
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    real, other = x[perm[:2500]], x[perm[2500:]]
    f_real, f_other = net.embed(real)[0], net.embed(other)[0]
    p, r = metrics.precision_recall(f_real, f_other)
    assert p > 0.75 and r > 0.75
    yo = y[perm[2500:]]
    f_half = net.embed(other[yo < 5])[0]  # a generator that lost digits 5-9
    p_half, r_half = metrics.precision_recall(f_real, f_half)
    assert p_half > 0.75 and r_half < r - 0.2


def test_score_images_keys_and_protocol(halves):
    a, b, _, _ = halves
    s = score_images(a[:300], b[:1000], dataset="mnist5k", seed=0)
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "class_histogram", "class_kl",
                "inception_score", "protocol"):
        assert key in s
    assert s["protocol"]["feature_net_sha256"] == file_sha256(shipped_path("mnist"))
    assert s["protocol"]["n_generated"] == 300 and s["protocol"]["seed"] == 0
    assert s["inception_score"] > 8  # real digits: confident and balanced
    assert score_images(a[:300], b[:1000], dataset="mnist5k", seed=0) == s  # deterministic


def test_train_classifier_small_and_round_trip(mnist5k, tmp_path):
    x, y = mnist5k.x[:600], mnist5k.y[:600]
    m1, acc1 = train_classifier(x[:500], y[:500], x[500:], y[500:], epochs=1, batch_size=50, seed=3, log=None)
    m2, acc2 = train_classifier(x[:500], y[:500], x[500:], y[500:], epochs=1, batch_size=50, seed=3, log=None)
    assert acc1 == acc2 and all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
    path = save_classifier(m1, tmp_path / "c.safetensors", dataset="mnist", test_accuracy=acc1)
    fn = load_classifier("mnist", path)
    assert torch.equal(fn.model.head.weight, m1.head.weight) and fn.test_accuracy == pytest.approx(acc1)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_classifier("mnist", path)


def test_evaluate_refuses_wrong_inputs(tmp_path):
    with pytest.raises(ConfigError, match="no shipped domain classifier"):
        load_classifier("cifar10")
    with pytest.raises(ConfigError, match="28x28"):
        load_classifier("mnist").embed(torch.zeros(2, 3, 32, 32))
    r = gk("evaluate", check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "RUN" in r.stderr


@pytest.fixture(scope="module")
def tiny_image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ev") / "run"
    gankit.train(gankit.TrainConfig(steps=4, batch_size=16, width=8, out=str(out), progress=False,
                                    conditional=True))
    return out


def test_evaluate_cli_on_a_run(tiny_image_run, tmp_path, halves):
    js = tmp_path / "s.json"
    r = gk("evaluate", tiny_image_run, "--n", 300, "--seed", 1, "--json", js)
    assert "fid=" in r.stdout
    s = json.loads(js.read_text())
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "class_histogram", "class_kl",
                "protocol"):
        assert key in s
    assert s["protocol"]["n_generated"] == 300 and s["protocol"]["conditional"] is True
    assert len(s["class_histogram"]) == 10 and 0 <= s["label_accuracy"] <= 1
    assert "memorisation" in s and "memorisation" in s["protocol"]  # None without a real test split at hand
    # an untrained generator is far from the data
    _, _, fa, fb = halves  # real digits against real digits: the floor
    assert s["fid"] > 10 * metrics.fid(fa, fb)


def test_evaluate_toy_runs(tmp_path):
    for name, key in (("ring8", "modes"), ("gaussian1d", "jsd")):
        out = tmp_path / name
        gankit.train(gankit.TrainConfig(dataset=name, model="mlp", steps=3, width=16, out=str(out),
                                        progress=False))
        s = gankit.evaluate(out, seed=0) if name == "ring8" else evaluate_run(out, seed=0)
        assert key in s and s["protocol"]["dataset"] == name
    assert s["protocol"]["n_generated"] == 2500


@pytest.mark.slow
def test_evaluate_real_cli(shared_data, tmp_path):
    js = tmp_path / "real.json"
    gk("evaluate", "--real", "--dataset", "mnist", "--data-dir", shared_data, "--json", js)
    s = json.loads(js.read_text())
    assert s["fid"] < 10 and s["precision"] > 0.8 and s["recall"] > 0.8 and s["classes_present"] == 10
    assert s["protocol"]["reference"] == "mnist train split" and s["protocol"]["n_real_stats"] == 60000


def _rows(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_eval_every_logs_a_learning_curve_without_changing_training(tmp_path):
    base = dict(dataset="ring8", model="mlp", steps=30, width=16, batch_size=64, log_every=10, progress=False)
    gankit.train(gankit.TrainConfig(**base, out=str(tmp_path / "plain")))
    gankit.train(gankit.TrainConfig(**base, eval_every=15, eval_n=500, out=str(tmp_path / "eval")))
    rows = _rows(tmp_path / "eval")
    scored = [r["step"] for r in rows if "Eval/modes" in r]
    assert scored == [15, 30] and all(0 <= r["Eval/hq"] <= 1 for r in rows if "Eval/hq" in r)
    a = gankit.load(tmp_path / "plain").net.state_dict()
    b = gankit.load(tmp_path / "eval").net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the evaluator draws from its own RNG


def test_eval_every_on_images_logs_fid(tmp_path):
    out = tmp_path / "img"
    gankit.train(gankit.TrainConfig(steps=4, batch_size=16, width=8, eval_every=2, eval_n=200, log_every=100,
                                    out=str(out), progress=False))
    rows = [r for r in _rows(out) if "Eval/FID" in r]
    assert [r["step"] for r in rows] == [2, 4] and all(r["Eval/FID"] > 0 and "Eval/KID" in r for r in rows)


def test_eval_every_refuses_data_without_a_metric(tmp_path):
    with pytest.raises(ConfigError, match="eval-every"):
        gankit.train(gankit.TrainConfig(dataset="swissroll", model="mlp", steps=2, eval_every=1,
                                        out=str(tmp_path / "s"), progress=False))


def test_memorisation_known_answers(mnist5k):
    from gankit.evaluation.memorisation import memorisation_scores, nearest_distances

    x = mnist5k.x[torch.randperm(5000, generator=torch.Generator().manual_seed(0))]
    train, test, new = x[:3000], x[3000:4000], x[4000:]
    q = new[:50]
    assert torch.allclose(nearest_distances(q, train), torch.cdist(q.flatten(1).double(),
                                                                   train.flatten(1).double()).min(1).values)
    copies = memorisation_scores(train[:500], test, train)  # a generator that replays its training data
    assert copies["copy_fraction"] == 1.0 and copies["gen_to_train_median"] == pytest.approx(0, abs=1e-5)
    fresh = memorisation_scores(new, test, train)  # new real digits: as far from the training set as test ones
    assert fresh["copy_fraction"] < 0.05 and 0.9 < fresh["median_ratio"] < 1.1


class _Oracle:
    """A stand-in conditional generator that returns real digits of the asked class (or of a wrong one)."""

    num_classes = 10

    def __init__(self, data, wrong=False):
        self.data, self.wrong = data, wrong

    def sample(self, n, labels=None, seed=None):
        asked = (labels + 3) % 10 if self.wrong else labels
        pools = [self.data.x[self.data.y == k] for k in range(10)]
        return torch.stack([pools[int(k)][i % len(pools[int(k)])] for i, k in enumerate(asked)])


def test_classification_accuracy_score_known_answers(mnist5k):
    from gankit.evaluation.cas import classification_accuracy_score

    perm = torch.randperm(5000, generator=torch.Generator().manual_seed(0))
    train = type("D", (), {"x": mnist5k.x[perm[:3000]], "y": mnist5k.y[perm[:3000]]})
    test_x, test_y = mnist5k.x[perm[3000:4000]], mnist5k.y[perm[3000:4000]]
    good = classification_accuracy_score(_Oracle(train), test_x, test_y, n=2000, epochs=2)["cas"]
    bad = classification_accuracy_score(_Oracle(train, wrong=True), test_x, test_y, n=2000, epochs=2)["cas"]
    assert good > 0.85 and bad < 0.05  # right digits train a classifier; mislabelled ones train it wrongly
    with pytest.raises(ConfigError, match="conditional"):
        classification_accuracy_score(type("U", (), {"num_classes": 0})(), test_x, test_y)


@pytest.mark.slow
def test_evaluate_cas_and_memorisation_on_full_mnist(tiny_image_run, shared_data, tmp_path):
    js = tmp_path / "cas.json"
    gk("evaluate", tiny_image_run, "--n", 500, "--data-dir", shared_data, "--cas", "--json", js)
    s = json.loads(js.read_text())
    assert 0 <= s["cas"] <= 1 and s["cas_protocol"]["n_generated_train"] == 10000
    assert s["memorisation"]["n_generated"] == 500 and s["memorisation"]["n_test"] == 2000
    assert s["memorisation"]["copy_fraction"] < 0.5
