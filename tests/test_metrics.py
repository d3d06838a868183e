"""Every metric against an answer known in advance: scipy's sqrtm for FID, hand-worked toy sets for the k-NN
metrics, closed forms for the classifier scores and toy mode counts, and the limits 0 and ln 2 for the JSD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.data import TOY_MODES
from gankit.evaluation import metrics
from gankit.evaluation.metrics import (classifier_scores, density_coverage, feature_stats, fid, frechet_distance,
                                       jsd_1d, kid, mode_stats, precision_recall)

scipy_linalg = pytest.importorskip("scipy.linalg")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def correlated(n: int, d: int, seed: int, *, rank: int | None = None, shift: float = 0.0) -> torch.Tensor:
    """n samples of a correlated Gaussian in R^d: z W + shift, z ~ N(0, I_rank) (rank < d: near-singular cov)."""
    g = gen(seed)
    w = torch.randn(rank or d, d, generator=gen(1234), dtype=torch.float64) / math.sqrt(d)
    x = torch.randn(n, rank or d, generator=g, dtype=torch.float64) @ w + shift
    if rank is not None:
        x = x + 1e-4 * torch.randn(n, d, generator=g, dtype=torch.float64)  # keeps cov barely full-rank
    return x


def scipy_fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """The textbook FID with numpy statistics and scipy's general matrix square root."""
    a, b = a.numpy(), b.numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy_linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# --------------------------------------------------------------------------------------------------------- FID


def test_feature_stats_match_numpy():
    x = correlated(200, 8, 0)
    mu, cov = feature_stats(x.float())
    assert mu.dtype == cov.dtype == torch.float64 and mu.shape == (8,) and cov.shape == (8, 8)
    np.testing.assert_allclose(mu.numpy(), x.float().double().numpy().mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(x.float().double().numpy(), rowvar=False), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("d,rank,shift", [(16, None, 0.3), (48, None, 0.1), (32, 6, 0.05), (64, 10, 0.0)])
def test_fid_matches_scipy_sqrtm(d, rank, shift):
    a = correlated(600, d, 1, rank=rank)
    b = correlated(600, d, 2, rank=rank, shift=shift) * 1.2  # different scale too, so the trace term matters
    want = scipy_fid(a, b)
    assert fid(a, b) == pytest.approx(want, rel=1e-3)
    assert frechet_distance(*feature_stats(a), *feature_stats(b)) == pytest.approx(want, rel=1e-3)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    # diagonal Gaussians: d^2 = ||mu1 - mu2||^2 + sum (sqrt(s1_i) - sqrt(s2_i))^2
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    v1, v2 = torch.tensor([1.0, 4.0, 0.0]), torch.tensor([9.0, 1.0, 2.0])  # one zero variance: singular s1
    want = 1 + 0 + 4 + (1 - 3) ** 2 + (2 - 1) ** 2 + (0 - math.sqrt(2)) ** 2
    assert frechet_distance(mu1, torch.diag(v1), mu2, torch.diag(v2)) == pytest.approx(want, rel=1e-12)
    assert abs(frechet_distance(mu1, torch.diag(v1), mu1, torch.diag(v1))) < 1e-12


def test_fid_same_distribution_small_and_grows_with_noise():
    a, b = correlated(1000, 16, 3), correlated(1000, 16, 4)
    same = fid(a, b)
    shifted = fid(a, b + 1.0)
    assert same < 0.05 * shifted
    noise = torch.randn(b.shape, generator=gen(5), dtype=torch.float64)
    scores = [fid(a, b + s * noise) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert all(x < y for x, y in zip(scores, scores[1:])), scores


def test_frechet_distance_handles_singular_covariance_from_few_samples():
    a, b = correlated(10, 32, 6), correlated(12, 32, 7)  # N < D: both covariances rank-deficient
    value = fid(a, b)
    assert math.isfinite(value) and value > 0
    assert value == pytest.approx(scipy_fid(a, b), rel=1e-3)


# --------------------------------------------------------------------------------------------------------- KID


def test_kid_near_zero_for_same_distribution_and_positive_under_shift():
    a, b = correlated(600, 16, 8), correlated(600, 16, 9)
    same_mean, same_std = kid(a, b, subsets=20, subset_size=200)
    shift_mean, shift_std = kid(a, b + 0.5, subsets=20, subset_size=200)
    assert shift_mean > 0 and shift_mean > 10 * shift_std
    assert abs(same_mean) < 0.02 * shift_mean
    assert same_std >= 0


def test_kid_matches_unbiased_estimate_written_out():
    a, b = correlated(30, 4, 10), correlated(30, 4, 11, shift=0.3)
    k = lambda x, y: (x @ y.T / 4 + 1) ** 3  # noqa: E731
    m = 30
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    want = ((kxx.sum() - kxx.trace()) + (kyy.sum() - kyy.trace())) / (m * (m - 1)) - 2 * kxy.mean()
    # one subset of the whole set is every row (in some order): the estimate is the full-sample one, std 0
    mean, std = kid(a, b, subsets=1, subset_size=1000)
    assert mean == pytest.approx(float(want), rel=1e-10) and std == 0.0


def test_kid_deterministic_for_seed_and_seed_matters():
    a, b = correlated(300, 8, 12), correlated(250, 8, 13, shift=0.2)
    first = kid(a, b, subsets=5, subset_size=50, seed=7)
    assert kid(a, b, subsets=5, subset_size=50, seed=7) == first
    assert kid(a, b, subsets=5, subset_size=50, seed=8) != first


# ---------------------------------------------------------------------------------------- k-NN manifold metrics

LINE = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k=1: every real radius is 1
FAKES = torch.tensor([[0.5], [10.0]])  # 0.5 lies in the balls of 0 and 1; 10 lies in none


def test_precision_recall_hand_worked():
    # precision: 1 of 2 fakes inside the real manifold; recall: fake radii are 9.5, which cover all 4 reals
    assert precision_recall(LINE, FAKES, k=1) == (0.5, 1.0)


def test_density_coverage_hand_worked():
    # density = (2 + 0) / (k * M) = 2 / 2; coverage: the balls of 0 and 1 hold a fake, those of 2 and 3 do not
    assert density_coverage(LINE, FAKES, k=1) == (1.0, 0.5)


def mixture(n: int, seed: int, modes=(-4.0, 4.0)) -> torch.Tensor:
    g = gen(seed)
    centres = torch.tensor([[m, 0.0] for m in modes])
    return centres[torch.randint(0, len(modes), (n,), generator=g)] + torch.randn(n, 2, generator=g)


def test_precision_recall_same_distribution_and_half_collapse():
    real, fake = mixture(400, 14), mixture(400, 15)
    p, r = precision_recall(real, fake, k=3)
    assert p > 0.8 and r > 0.8
    collapsed = mixture(400, 16, modes=(4.0,))  # only the right-hand mode
    p, r = precision_recall(real, collapsed, k=3)
    assert p > 0.8 and r < 0.6


def test_density_coverage_same_distribution_and_far_away():
    real, fake = mixture(500, 17), mixture(500, 18)
    density, coverage = density_coverage(real, fake, k=5)
    assert 0.8 < density < 1.2 and coverage > 0.8
    assert density_coverage(real, fake + 100.0, k=5) == (0.0, 0.0)


def test_knn_metrics_do_not_depend_on_chunk_size(monkeypatch):
    real, fake = mixture(120, 19), mixture(90, 20, modes=(4.0,))
    before = precision_recall(real, fake), density_coverage(real, fake)
    monkeypatch.setattr(metrics, "_CHUNK_ELEMS", 7)  # blocks of a row or two: every boundary case of the loop
    assert (precision_recall(real, fake), density_coverage(real, fake)) == before


def test_knn_metrics_against_brute_force_cdist():
    real, fake = mixture(150, 21).double(), mixture(130, 22, modes=(4.0, 9.0)).double()
    k = 3
    d_rr, d_rf, d_ff = torch.cdist(real, real), torch.cdist(real, fake), torch.cdist(fake, fake)
    r_real = d_rr.sort(1).values[:, k]  # column 0 is the point itself
    r_fake = d_ff.sort(1).values[:, k]
    inside = d_rf <= r_real[:, None]  # [real, fake]
    want_p = inside.any(0).double().mean().item()
    want_r = (d_rf <= r_fake[None, :]).any(1).double().mean().item()
    assert precision_recall(real, fake, k=k) == pytest.approx((want_p, want_r), abs=1e-12)
    dens, cov = density_coverage(real, fake, k=k)
    assert dens == pytest.approx(inside.sum().item() / (k * 130), abs=1e-12)
    assert cov == pytest.approx(inside.any(1).double().mean().item(), abs=1e-12)


# ------------------------------------------------------------------------------------------- classifier scores


def test_classifier_scores_uniform_one_hot():
    k = 10
    probs = torch.eye(k).repeat(7, 1)  # 70 confident predictions, 7 per class
    s = classifier_scores(probs)
    assert s["inception_score"] == pytest.approx(k, rel=1e-12)
    assert s["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert s["class_histogram"] == pytest.approx([0.1] * k)
    assert s["classes_present"] == k
    assert s["confident"] == 1.0


def test_confident_counts_rows_above_the_threshold_only():
    # largest probabilities 0.95, 0.9 (not above), 0.5, 0.91: two of four rows are confident
    probs = torch.tensor([[0.95, 0.05], [0.9, 0.1], [0.5, 0.5], [0.09, 0.91]], dtype=torch.float64)  # 0.9 exactly
    assert classifier_scores(probs)["confident"] == pytest.approx(0.5)


def test_classifier_scores_single_class():
    k = 10
    probs = torch.zeros(50, k)
    probs[:, 3] = 1.0
    s = classifier_scores(probs)
    assert s["inception_score"] == pytest.approx(1.0, abs=1e-12)
    assert s["class_kl"] == pytest.approx(math.log(k), rel=1e-12)
    assert s["classes_present"] == 1
    assert s["class_histogram"][3] == 1.0 and sum(s["class_histogram"]) == 1.0


def test_classifier_scores_soft_rows():
    # every row the same soft vector: p(y|x) = p(y), so IS = 1 whatever the vector
    probs = torch.softmax(torch.tensor([[0.1, 2.0, -1.0]]), 1).repeat(20, 1)
    assert classifier_scores(probs)["inception_score"] == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------------------------------------ toy mixtures

HQ_2D = 1 - math.exp(-4.5)  # P(||N(0, I_2)|| <= 3) = P(chi^2_2 <= 9): the HQ fraction of true 2-D samples


def sample_toy(name: str, n: int, seed: int, only_mode: int | None = None) -> torch.Tensor:
    centres, std = TOY_MODES[name]
    g = gen(seed)
    idx = torch.randint(0, centres.shape[0], (n,), generator=g)
    if only_mode is not None:
        idx = torch.full_like(idx, only_mode)
    return centres[idx] + std * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("name,k", [("ring8", 8), ("grid25", 25)])
def test_mode_stats_true_mixture_and_single_mode(name, k):
    centres, std = TOY_MODES[name]
    s = mode_stats(sample_toy(name, 2500, 23), centres, std)
    assert s["modes"] == k and s["n"] == 2500 and len(s["per_mode"]) == k
    assert s["hq"] == pytest.approx(HQ_2D, abs=0.006)  # ~3 binomial standard errors at n = 2,500
    assert sum(s["per_mode"]) == round(s["hq"] * 2500)
    one = mode_stats(sample_toy(name, 2500, 24, only_mode=k - 1), centres, std)
    assert one["modes"] == 1 and one["per_mode"][k - 1] == sum(one["per_mode"])


def test_mode_stats_min_count_and_far_points():
    centres, std = TOY_MODES["ring8"]
    pts = torch.cat([centres[:1].repeat(19, 1), centres[1:2].repeat(20, 1), torch.full((5, 2), 50.0)])
    s = mode_stats(pts, centres, std)  # 19 < 20 HQ samples on mode 0, 20 on mode 1; far points are not HQ
    assert s["modes"] == 1 and s["per_mode"][:2] == [19, 20] and s["hq"] == pytest.approx(39 / 44)
    assert mode_stats(pts, centres, std, min_count=1)["modes"] == 2


# ------------------------------------------------------------------------------------------------------ 1-D JSD


def test_jsd_1d_same_far_and_monotone():
    mu, sigma = 4.0, 0.5
    x = torch.randn(10_000, generator=gen(25), dtype=torch.float64)
    assert jsd_1d(mu + sigma * x, mu, sigma) < 0.01
    assert jsd_1d((mu + sigma * x)[:, None], mu, sigma) < 0.01  # [N, 1] as the toy data sets give it
    assert jsd_1d(mu + 50 * sigma + sigma * x, mu, sigma) == pytest.approx(math.log(2), abs=0.01)
    values = [jsd_1d(mu + s * sigma + sigma * x, mu, sigma) for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_jsd_1d_collapsed_generator_and_outliers():
    mu, sigma = 0.0, 1.0
    # a point mass at mu shares one narrow bin with the normal: most of each distribution is disjoint
    assert jsd_1d(torch.zeros(5000), mu, sigma) > 0.5
    # a few wild outliers must not stretch the grid until every sample shares one bin with the normal
    x = torch.randn(10_000, generator=gen(26), dtype=torch.float64)
    x[:5] = 1e6
    assert jsd_1d(x, mu, sigma) < 0.01


# ------------------------------------------------------------------------------------------------- bad inputs

A = torch.randn(20, 4, generator=gen(27))


@pytest.mark.parametrize("call,match", [
    (lambda: fid(A, torch.randn(20, 5)), "feature dims differ"),
    (lambda: fid(A[:1], A), "feats_a needs at least 2 samples"),
    (lambda: fid(A[0], A), r"feats_a must be \[N, D\]"),
    (lambda: feature_stats(A[:1]), "at least 2 samples"),
    (lambda: fid(A, A.clone().fill_(float("nan"))), "feats_b contains NaN"),
    (lambda: frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(3), torch.eye(4)), "sigma2 must be"),
    (lambda: frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2)), "feature dims differ"),
    (lambda: kid(A, torch.randn(20, 3)), "feature dims differ"),
    (lambda: kid(A, A, subset_size=1), "subset_size"),
    (lambda: kid(A, A, subsets=0), "subsets"),
    (lambda: precision_recall(A, A[:3], k=3), "fake needs at least 4 samples"),
    (lambda: precision_recall(A[:3], A, k=3), "real needs at least 4 samples"),
    (lambda: precision_recall(A, A, k=0), "k must be"),
    (lambda: density_coverage(A, torch.randn(5, 2)), "feature dims differ"),
    (lambda: classifier_scores(torch.tensor([[0.5, 0.6]])), "sum to 1"),
    (lambda: classifier_scores(torch.tensor([[1.5, -0.5]])), "negative"),
    (lambda: classifier_scores(torch.ones(3)), r"probs must be \[N, D\]"),
    (lambda: mode_stats(torch.zeros(5, 3), TOY_MODES["ring8"][0], 0.02), "feature dims differ"),
    (lambda: mode_stats(torch.zeros(5, 2), TOY_MODES["ring8"][0], 0.0), "std must be"),
    (lambda: jsd_1d(torch.zeros(5, 2), 0.0, 1.0), r"samples must be \[N\]"),
    (lambda: jsd_1d(torch.zeros(5), 0.0, -1.0), "sigma must be"),
    (lambda: jsd_1d(torch.zeros(0), 0.0, 1.0), "samples is empty"),
])
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
