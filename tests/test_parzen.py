"""The Parzen-window log-likelihood (gankit.evaluation.parzen) against hand-computed densities, and
`gankit evaluate --parzen` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gankit.cli import main
from gankit.evaluation.parzen import SIGMAS, log_density, parzen_log_likelihoods, parzen_scores, squared_distances


def test_sigma_grid_is_the_papers() -> None:
    assert len(SIGMAS) == 10 and SIGMAS[0] == pytest.approx(0.1) and SIGMAS[-1] == pytest.approx(1.0)
    assert all(b / a == pytest.approx(10 ** (1 / 9)) for a, b in zip(SIGMAS, SIGMAS[1:]))


def test_a_point_on_its_only_kernel_has_the_gaussian_peak_density() -> None:
    x = torch.rand(1, 5, dtype=torch.float64)
    ll = log_density(squared_distances(x, x), 0.3, 5)
    assert float(ll) == pytest.approx(-2.5 * math.log(2 * math.pi * 0.09), abs=1e-9)


def test_mixture_density_matches_scipy() -> None:
    g = torch.Generator().manual_seed(0)
    centres, x = torch.rand(7, 4, generator=g, dtype=torch.float64), torch.rand(5, 4, generator=g, dtype=torch.float64)
    sigmas = (0.2, 0.5)
    got = parzen_log_likelihoods(centres, x, sigmas)
    for k, s in enumerate(sigmas):
        cov = s * s * torch.eye(4).numpy()
        per_centre = [multivariate_normal(c.numpy(), cov).logpdf(x.numpy()) for c in centres]
        want = logsumexp(per_centre, axis=0) - math.log(len(centres))
        assert torch.allclose(got[k], torch.from_numpy(want), atol=1e-9)


def test_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.rand(20, 3, generator=g, dtype=torch.float64)
    x = torch.rand(11, 3, generator=g, dtype=torch.float64)
    whole = parzen_log_likelihoods(centres, x, SIGMAS)
    monkeypatch.setattr("gankit.evaluation.parzen.BLOCK", 3)
    assert torch.allclose(parzen_log_likelihoods(centres, x, SIGMAS), whole, atol=1e-12)


def test_scores_pick_the_validation_best_sigma_and_report_test_mean_and_se() -> None:
    """Images in [-1, 1] are mapped to [0, 1]; sigma maximises the validation mean; the test mean and its
    standard error are those of the per-image log-likelihoods at that sigma."""
    g = torch.Generator().manual_seed(2)
    samples = torch.rand(50, 1, 2, 2, generator=g) * 2 - 1
    valid = (samples[:10] + 0.05 * torch.randn(10, 1, 2, 2, generator=g)).clamp(-1, 1)
    test = (samples[10:30] + 0.3 * torch.randn(20, 1, 2, 2, generator=g)).clamp(-1, 1)
    s = parzen_scores(samples, valid, test)
    flat = [((t.reshape(len(t), -1).double() + 1) / 2) for t in (samples, valid, test)]
    valid_ll = parzen_log_likelihoods(flat[0], flat[1], SIGMAS).mean(1)
    assert s["parzen_sigma"] == SIGMAS[int(valid_ll.argmax())]
    per_test = parzen_log_likelihoods(flat[0], flat[2], (s["parzen_sigma"],))[0]
    assert s["parzen_ll"] == pytest.approx(float(per_test.mean()))
    assert s["parzen_ll_se"] == pytest.approx(float(per_test.std()) / math.sqrt(20))
    assert list(s["parzen_valid_ll"].values()) == pytest.approx(valid_ll.tolist())


def test_samples_on_the_test_images_score_higher_than_noise() -> None:
    g = torch.Generator().manual_seed(3)
    data = torch.rand(300, 1, 4, 4, generator=g) * 2 - 1
    near = parzen_scores(data[:200], data[200:250], data[250:])["parzen_ll"]
    noise = parzen_scores(torch.rand(200, 1, 4, 4, generator=g) * 2 - 1, data[200:250], data[250:])["parzen_ll"]
    shifted = parzen_scores((data[:200] + 0.8).clamp(-1, 1), data[200:250], data[250:])["parzen_ll"]
    assert near > noise and near > shifted


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parzen") / "run"
    assert main(["train", "--steps", "2", "--batch-size", "16", "--width", "8", "--no-progress",
                 "--out", str(out)]) == 0
    return out


def test_evaluate_parzen_on_a_run(image_run: Path, shared_data: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    assert main(["evaluate", str(image_run), "--n", "300", "--parzen", "--data-dir", str(shared_data),
                 "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert math.isfinite(scores["parzen_ll"]) and scores["parzen_ll_se"] > 0
    assert scores["parzen_sigma"] in SIGMAS and "300 generated samples" in scores["parzen_protocol"]
    assert "parzen_ll=" in capsys.readouterr().out


def test_parzen_on_toy_runs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "toy"
    assert main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "2", "--no-progress",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--parzen"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--parzen" in err and "ring8" in err
