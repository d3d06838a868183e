"""Sample-quality metrics for GANs as pure functions.

Inputs are torch tensors: features [N, D], class probabilities [N, K], points [N, 2] (or [N, D]), 1-D samples [N].
Everything is computed in float64 and returned as Python floats / ints / lists, so results go straight into JSON.
Nothing here holds state, draws randomness it was not seeded for, or builds an N x M matrix in one piece: pairwise
distances are formed a block of rows at a time (`_CHUNK_ELEMS` entries per block), so 10,000 x 10,000 comparisons
stay well under 100 MB.

- FID: Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium".
- KID: Bińkowski et al. 2018, "Demystifying MMD GANs".
- Precision / recall: Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
  Models".
- Density / coverage: Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models".
- Inception score: Salimans et al. 2016, "Improved Techniques for Training GANs" (here with a domain classifier).
- Mode counts on toy mixtures: Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN).
- Stacked MNIST modes and KL: Metz et al. 2017 (Unrolled GAN), VEEGAN and PacGAN.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = [
    "classifier_scores",
    "density_coverage",
    "feature_stats",
    "fid",
    "frechet_distance",
    "jsd_1d",
    "kid",
    "mode_stats",
    "precision_recall",
    "stacked_modes",
]

# Entries per block of a pairwise matrix: 2^21 float64 = 16 MiB, so even the few temporaries a block needs
# (x @ y.T, the sum of norms, a boolean mask) stay far below 100 MB whatever N and M are.
_CHUNK_ELEMS = 2**21
_PROB_ATOL = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; 1e-3 still rejects logits or unnormalised scores


# ----------------------------------------------------------------------------------------------------- validation


def _as_f64(x: Tensor, name: str, ndim: int) -> Tensor:
    """`x` detached as float64, after checking it is a finite tensor with `ndim` dimensions."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        want = {1: "[N]", 2: "[N, D]"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
    x = x.detach().to(torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _features(x: Tensor, name: str, min_n: int) -> Tensor:
    """[N, D] float64 features with at least `min_n` rows and D >= 1."""
    x = _as_f64(x, name, 2)
    if x.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimensions (shape {tuple(x.shape)})")
    if x.shape[0] < min_n:
        raise ValueError(f"{name} needs at least {min_n} samples, got {x.shape[0]}")
    return x


def _same_dim(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {name_a} has D={a.shape[1]}, {name_b} has D={b.shape[1]}")


def _positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _positive_float(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# ------------------------------------------------------------------------------------------- chunked distances


def _sq_dist_blocks(x: Tensor, y: Tensor) -> Iterator[tuple[int, Tensor]]:
    """Yield (start, D2) with D2[i, j] = ||x[start + i] - y[j]||^2 for consecutive row blocks of x.

    Squared distances via ||x||^2 + ||y||^2 - 2 x.y (one matmul per block), clamped at 0 against rounding.
    Callers compare squared distances with squared radii, so no square root is ever needed.
    """
    rows = max(1, _CHUNK_ELEMS // max(1, y.shape[0]))
    y_sq = (y * y).sum(1)
    for start in range(0, x.shape[0], rows):
        xb = x[start:start + rows]
        d2 = (xb * xb).sum(1, keepdim=True) + y_sq - 2.0 * (xb @ y.T)
        yield start, d2.clamp_(min=0.0)


def _knn_sq_radii(x: Tensor, k: int) -> Tensor:
    """[N] squared distance from each row of x to its k-th nearest *other* row (the point itself is excluded)."""
    radii = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for start, d2 in _sq_dist_blocks(x, x):
        idx = torch.arange(d2.shape[0], device=x.device)
        d2[idx, start + idx] = math.inf  # a point is not its own neighbour (duplicates elsewhere still count)
        radii[start:start + d2.shape[0]] = d2.topk(k, dim=1, largest=False).values[:, -1]
    return radii


def _ball_counts(points: Tensor, centres: Tensor, sq_radii: Tensor) -> Tensor:
    """[N] number of balls (centres[i], radius sqrt(sq_radii[i])) that each point lies in (closed balls)."""
    counts = torch.empty(points.shape[0], dtype=torch.int64, device=points.device)
    for start, d2 in _sq_dist_blocks(points, centres):
        counts[start:start + d2.shape[0]] = (d2 <= sq_radii).sum(1)
    return counts


def _min_sq_dist(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """For each row of x: the squared distance to its nearest row of y, and that row's index."""
    best = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    arg = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    for start, d2 in _sq_dist_blocks(x, y):
        vals, idx = d2.min(1)
        best[start:start + d2.shape[0]], arg[start:start + d2.shape[0]] = vals, idx
    return best, arg


# ----------------------------------------------------------------------------------------------------------- FID


def feature_stats(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Mean [D] and unbiased covariance [D, D] (divisor N - 1) of features [N, D], both float64."""
    x = _features(feats, "feats", 2)
    mu = x.mean(0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - 1)


def _psd_sqrt(s: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix via eigh; negative eigenvalues (rounding) clamp to 0."""
    w, v = torch.linalg.eigh(0.5 * (s + s.T))
    return (v * w.clamp(min=0.0).sqrt()) @ v.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017):

        d^2 = ||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}).

    tr((s1 s2)^{1/2}) is taken as tr((A s2 A)^{1/2}) with A = s1^{1/2}: A s2 A is similar to s1 s2 but symmetric
    PSD, so its eigenvalues come from eigh and are real, which avoids the complex, ill-conditioned general
    `sqrtm` on near-singular covariances. Not clamped at 0, so rounding may leave it a hair below 0 for
    identical statistics.
    """
    m1, m2 = _as_f64(mu1, "mu1", 1), _as_f64(mu2, "mu2", 1)
    s1, s2 = _as_f64(sigma1, "sigma1", 2), _as_f64(sigma2, "sigma2", 2)
    d = m1.shape[0]
    if m2.shape[0] != d:
        raise ValueError(f"feature dims differ: mu1 has D={d}, mu2 has D={m2.shape[0]}")
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must be [{d}, {d}] to match mu1, got shape {tuple(s.shape)}")
    a = _psd_sqrt(s1)
    m = a @ s2 @ a
    tr_covmean = torch.linalg.eigvalsh(0.5 * (m + m.T)).clamp(min=0.0).sqrt().sum()
    diff = m1 - m2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2.0 * tr_covmean)


def fid(feats_a: Tensor, feats_b: Tensor) -> float:
    """Fréchet Inception Distance: `frechet_distance` of the Gaussians fitted to features [N, D] and [M, D]."""
    a, b = _features(feats_a, "feats_a", 2), _features(feats_b, "feats_b", 2)
    _same_dim(a, b, "feats_a", "feats_b")
    return frechet_distance(*feature_stats(a), *feature_stats(b))


# ----------------------------------------------------------------------------------------------------------- KID


def _poly_kernel_sum(x: Tensor, y: Tensor) -> Tensor:
    """sum_ij k(x_i, y_j) with k(x, y) = (x.y / d + 1)^3, one block of rows at a time."""
    d = x.shape[1]
    rows = max(1, _CHUNK_ELEMS // max(1, y.shape[0]))
    total = torch.zeros((), dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], rows):
        total += ((x[start:start + rows] @ y.T) / d + 1.0).pow(3).sum()
    return total


def _mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD^2 with the cubic kernel for two samples of equal size m (Bińkowski et al. 2018, eq. 3):
    mean of k over off-diagonal pairs within x and within y, minus twice the mean over all x-y pairs."""
    m, d = x.shape
    diag_x = ((x * x).sum(1) / d + 1.0).pow(3).sum()  # k(x_i, x_i), removed: the U-statistic skips i = j
    diag_y = ((y * y).sum(1) / d + 1.0).pow(3).sum()
    k_xx = _poly_kernel_sum(x, x) - diag_x
    k_yy = _poly_kernel_sum(y, y) - diag_y
    k_xy = _poly_kernel_sum(x, y)
    return float((k_xx + k_yy) / (m * (m - 1)) - 2.0 * k_xy / (m * m))


def kid(feats_a: Tensor, feats_b: Tensor, *, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018): mean and std of the unbiased MMD^2 estimate with the
    cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 over `subsets` random subsets.

    Each subset draws `subset_size` rows of each set without replacement (clipped to min(len a, len b)) from a
    torch.Generator seeded with `seed`, so a call is deterministic. The std is the population std (ddof=0) of the
    per-subset estimates, 0 for a single subset. Unbiased, so it can be slightly negative when a and b match.
    """
    a, b = _features(feats_a, "feats_a", 2), _features(feats_b, "feats_b", 2)
    _same_dim(a, b, "feats_a", "feats_b")
    _positive_int(subsets, "subsets")
    m = min(_positive_int(subset_size, "subset_size", 2), a.shape[0], b.shape[0])
    gen = torch.Generator().manual_seed(int(seed))  # CPU generator: the same draws whatever device holds the data
    estimates = []
    for _ in range(subsets):
        ia = torch.randperm(a.shape[0], generator=gen)[:m].to(a.device)
        ib = torch.randperm(b.shape[0], generator=gen)[:m].to(b.device)
        estimates.append(_mmd2_unbiased(a[ia], b[ib]))
    est = torch.tensor(estimates, dtype=torch.float64)
    return float(est.mean()), float(est.std(correction=0))


# ---------------------------------------------------------------------------------------- manifold-based metrics


def _two_sets(real: Tensor, fake: Tensor, k: int, need_fake_k: bool) -> tuple[Tensor, Tensor]:
    """Validate real/fake features for k-NN metrics: each set whose k-NN radii are used needs k + 1 points."""
    _positive_int(k, "k")
    r = _features(real, "real", k + 1)
    f = _features(fake, "fake", k + 1 if need_fake_k else 1)
    _same_dim(r, f, "real", "fake")
    return r, f


def precision_recall(real: Tensor, fake: Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    The real manifold is the union of closed balls around each real point with radius the distance to its k-th
    nearest other real point; precision = fraction of fake points inside it. Recall is the same with the roles
    swapped: fraction of real points inside the fake manifold (balls from fake k-NN radii).
    """
    r, f = _two_sets(real, fake, k, need_fake_k=True)
    precision = (_ball_counts(f, r, _knn_sq_radii(r, k)) > 0).double().mean()
    recall = (_ball_counts(r, f, _knn_sq_radii(f, k)) > 0).double().mean()
    return float(precision), float(recall)


def density_coverage(real: Tensor, fake: Tensor, *, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), with B(x_i, r_i) the closed ball around real point x_i whose
    radius r_i is the distance to its k-th nearest other real point:

        density  = 1 / (k M) * sum_j sum_i 1[y_j in B(x_i, r_i)]     (M fake points y_j; ~1 when fake ~ real)
        coverage = 1 / N * sum_i 1[exists j: y_j in B(x_i, r_i)]     (N real points)

    Density is not capped at 1: fakes crowded into dense real regions push it above 1.
    """
    r, f = _two_sets(real, fake, k, need_fake_k=False)
    sq_radii = _knn_sq_radii(r, k)
    density = _ball_counts(f, r, sq_radii).double().sum() / (k * f.shape[0])
    nearest_fake, _ = _min_sq_dist(r, f)
    coverage = (nearest_fake <= sq_radii).double().mean()
    return float(density), float(coverage)


# -------------------------------------------------------------------------------------------- classifier scores


#: a sample counts as `confident` when the classifier's largest class probability exceeds this
CONFIDENT = 0.9


def classifier_scores(probs: Tensor) -> dict[str, float | int | list[float]]:
    """Scores from a domain classifier's softmax outputs p(y|x) [N, K]:

    - `inception_score` = exp(E_x KL(p(y|x) || p(y))), p(y) = mean_x p(y|x) (Salimans et al. 2016; one split);
      in [1, K]: K for confident predictions spread evenly over classes, 1 when all rows are identical.
    - `class_histogram`: K fractions of samples whose argmax is each class.
    - `class_kl` = KL(histogram || uniform) = sum_c h_c log(K h_c) in nats, with 0 log 0 = 0: 0 when perfectly
      balanced, log K when every sample gets one class.
    - `classes_present`: number of classes that are the argmax of at least one sample.
    - `confident`: fraction of samples whose largest class probability exceeds CONFIDENT (0.9): how often the
      classifier reads a sample as one class without doubt (real MNIST test digits: about 0.99).

    Rows must be probabilities (finite, >= 0, summing to 1 within 1e-3); they are renormalised exactly.
    """
    p = _as_f64(probs, "probs", 2)
    n, k = p.shape
    if n < 1 or k < 1:
        raise ValueError(f"probs must have at least one row and one class, got shape {tuple(p.shape)}")
    if bool((p < 0).any()):
        raise ValueError("probs has negative entries; pass softmax probabilities, not logits")
    sums = p.sum(1)
    worst = float((sums - 1.0).abs().max())
    if worst > _PROB_ATOL:
        raise ValueError(f"probs rows must sum to 1 (softmax outputs); a row is off by {worst:.3g}")
    p = p / sums[:, None]
    p_y = p.mean(0)
    # xlogy makes 0 log 0 = 0; wherever p > 0, p_y >= p / N > 0, so log p_y is finite where it is used
    kl_rows = (torch.xlogy(p, p) - torch.xlogy(p, p_y)).sum(1)
    inception = math.exp(float(kl_rows.mean()))
    hist = torch.bincount(p.argmax(1), minlength=k).double() / n
    class_kl = float(torch.xlogy(hist, hist * k).sum())
    return {
        "inception_score": inception,
        "class_histogram": [float(h) for h in hist],
        "class_kl": max(0.0, class_kl),  # a sum of rounding errors can dip below the exact 0 for a balanced set
        "classes_present": int((hist > 0).sum()),
        "confident": float((p.max(1).values > CONFIDENT).double().mean()),
    }


# ----------------------------------------------------------------------------------------------- toy mixtures


def mode_stats(points: Tensor, centres: Tensor, std: float, *,
               min_count: int = 20) -> dict[str, int | float | list[int]]:
    """Mode coverage on a Gaussian-mixture toy (the ring8 / grid25 protocol of VEEGAN and PacGAN).

    Each sample is assigned to its nearest centre and is high-quality (HQ) if its Euclidean distance to that
    centre is at most 3 * std. A mode is recovered if it has at least `min_count` HQ samples; the default 20 is
    a fixed count (not a fraction), meant for the usual 2,500 samples, where a faithful generator puts ~100
    (grid25) or ~300 (ring8) samples on each mode, and stray samples near a centre do not count as a mode.

    Note that the distance is a radius in D dimensions: for true 2-D data the expected HQ fraction is
    P(chi^2_2 <= 9) = 1 - exp(-4.5) ~= 0.9889, not the 1-D 99.7% of the three-sigma rule.

    Returns `modes` (int), `hq` (fraction of HQ samples), `per_mode` (HQ count per centre, in centre order), `n`.
    """
    x = _features(points, "points", 1)
    c = _features(centres, "centres", 1)
    _same_dim(x, c, "points", "centres")
    std = _positive_float(std, "std")
    _positive_int(min_count, "min_count")
    d2, nearest = _min_sq_dist(x, c)
    hq = d2 <= (3.0 * std) ** 2
    per_mode = torch.bincount(nearest[hq], minlength=c.shape[0])
    return {
        "modes": int((per_mode >= min_count).sum()),
        "hq": float(hq.double().mean()),
        "per_mode": [int(v) for v in per_mode],
        "n": int(x.shape[0]),
    }


# ----------------------------------------------------------------------------------------------- Stacked MNIST

STACKED_MODES = 1000  # 10 digits in each of 3 channels


def stacked_modes(digits: Tensor) -> dict[str, int | float]:
    """Mode coverage on Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018) from the digits
    [N, 3] (integers 0..9) that an MNIST classifier read in the three channels of N generated images.

    Protocol of those papers: generate 25,600 samples (Unrolled GAN; VEEGAN's text and PacGAN's code for VEEGAN's
    setting say 26,000), classify each channel separately with a pretrained MNIST classifier, and read the triple
    as one of the 1,000 modes 100 d1 + 10 d2 + d3. In gankit the classifier is the shipped MNIST domain classifier:
    `evaluation.evaluate.stacked_modes_of_images` for images, `evaluate_run` for a run.

    - `modes`: number of distinct triples present (a mode counts with one sample), out of 1,000. One sample is
      enough, so classifier errors add modes: a generator whose channel 0 is always some real '1' reads as about
      170-180 modes rather than 100 with gankit's classifier (99.5% per channel): each misread '1' opens a mode.
    - `kl` = KL(h || uniform) = sum_m h_m log(1000 h_m) in nats over the histogram h of all 1,000 modes, with
      0 log 0 = 0: 0 for a perfectly even histogram, log 1000 ~= 6.908 when every sample is one mode. Even real
      data is not at 0: N samples of a uniform distribution sit at about 999 / (2N) (0.02 for 25,600), and MNIST's
      own class frequencies add about 0.004.
    - `n`: the number of samples.
    """
    if not isinstance(digits, Tensor):
        raise ValueError(f"digits must be a torch.Tensor, got {type(digits).__name__}")
    if digits.dim() != 2 or digits.shape[1] != 3:
        raise ValueError(f"digits must be [N, 3] (one digit per channel), got shape {tuple(digits.shape)}")
    if digits.dtype.is_floating_point or digits.dtype.is_complex or digits.dtype == torch.bool:
        raise ValueError(f"digits must be an integer tensor (predicted classes 0..9), got dtype {digits.dtype}")
    n = digits.shape[0]
    if n < 1:
        raise ValueError("digits is empty")
    d = digits.detach().to(device="cpu", dtype=torch.int64)
    if int(d.min()) < 0 or int(d.max()) > 9:
        raise ValueError(f"digits must be in 0..9, got values from {int(d.min())} to {int(d.max())}")
    codes = d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]
    hist = torch.bincount(codes, minlength=STACKED_MODES).to(torch.float64) / n
    kl = float(torch.xlogy(hist, hist * STACKED_MODES).sum())  # xlogy: 0 log 0 = 0
    return {
        "modes": int((hist > 0).sum()),
        "kl": max(0.0, kl),  # rounding can leave an exactly even histogram a hair below 0
        "n": int(n),
    }


# -------------------------------------------------------------------------------------------------------- 1-D JSD


def _normal_cdf(x: Tensor, mu: float, sigma: float) -> Tensor:
    # erfc form keeps the far left tail accurate instead of 0.5 * (1 + erf) cancelling to 0
    return 0.5 * torch.erfc(-(x - mu) / (sigma * math.sqrt(2.0)))


def jsd_1d(samples: Tensor, mu: float, sigma: float, *, bins: int | None = None) -> float:
    """Jensen-Shannon divergence (nats, in [0, ln 2]) between N(mu, sigma) and the distribution of 1-D samples:

        JSD = 1/2 KL(p || m) + 1/2 KL(q || m),  m = (p + q) / 2,

    with p and q discretised on one grid: `bins` equal-width bins over the union of [mu - 6 sigma, mu + 6 sigma]
    and the samples' 0.1%-99.9% quantile range, plus one open tail cell on each side. q is the samples' histogram
    (fraction per cell); p is the exact normal mass per cell (CDF differences), so the cells of both sum to 1.
    Quantiles rather than min/max keep a few outliers from stretching the grid until everything shares one bin;
    those outliers still count, in the tail cells. The default bins = sqrt(N) clipped to [10, 200] keeps the
    histogram's own noise small: for samples from the target itself the estimate is about bins / (8 N).
    `samples` may be [N] or [N, 1].
    """
    if isinstance(samples, Tensor) and samples.dim() == 2 and samples.shape[1] == 1:
        samples = samples[:, 0]
    x = _as_f64(samples, "samples", 1)
    if x.shape[0] < 1:
        raise ValueError("samples is empty")
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu):
        raise ValueError(f"mu must be a finite number, got {mu!r}")
    mu, sigma = float(mu), _positive_float(sigma, "sigma")
    n = x.shape[0]
    if bins is None:
        bins = min(200, max(10, round(math.sqrt(n))))
    _positive_int(bins, "bins")

    xs = x.sort().values
    q_lo, q_hi = float(xs[int(0.001 * (n - 1))]), float(xs[math.ceil(0.999 * (n - 1))])
    lo, hi = min(mu - 6.0 * sigma, q_lo), max(mu + 6.0 * sigma, q_hi)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    # cells: (-inf, e_0), [e_0, e_1), ..., [e_{B-1}, e_B], (e_B, inf)
    xc = x.cpu()
    cell = torch.bucketize(xc, edges, right=True)  # 0 below the grid, B + 1 above, 1..B inside
    cell = torch.where(xc == edges[-1], torch.full_like(cell, bins), cell)  # close the last bin on the right
    q = torch.bincount(cell, minlength=bins + 2).double() / n
    cdf = _normal_cdf(edges, mu, sigma)
    p = torch.cat([cdf[:1], (cdf[1:] - cdf[:-1]).clamp(min=0.0), (1.0 - cdf[-1:]).clamp(min=0.0)])
    p = p / p.sum()

    m = 0.5 * (p + q)
    # xlogy: 0 log 0 = 0; wherever p (or q) > 0, m > 0 too
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum()
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum()
    return float(min(max(0.5 * float(kl_pm + kl_qm), 0.0), math.log(2.0)))
