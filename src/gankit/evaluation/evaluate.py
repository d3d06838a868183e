"""Score a run's generator, or real data, with the offline metrics; every score travels with its protocol.

Images (MNIST-family, 28x28 grey): features and class probabilities from the shipped domain classifier; the
reference is the real training split (all of it for the Fréchet statistics, a seeded subset of the same size as
the generated set for the k-NN metrics). `evaluate_real` puts the real test split in the generator's place: the
floor every generator is compared with; `evaluate_images` puts images from a folder or a .npy/.npz there, scored as
a run's samples are. Toys: the mode protocol of VEEGAN / PacGAN (2,500 samples) for ring8 and
grid25, the numerical JS divergence for gaussian1d. Stacked MNIST: the mode protocol of Unrolled GAN / VEEGAN /
PacGAN (25,600 samples, each channel read by the MNIST domain classifier; modes out of 1,000 and KL to uniform).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import __version__, progress
from ..errors import CheckpointError, ConfigError
from . import metrics
from . import parzen as parzen_mod

if TYPE_CHECKING:
    from .classifier import FeatureNet

TOY_SAMPLES = 2500  # samples per toy evaluation in Unrolled GAN / VEEGAN / PacGAN
KNN_K_PR = 3  # Kynkäänniemi et al. 2019
KNN_K_DC = 5  # Naeem et al. 2020
MEMO_SAMPLES = 2000  # generated and test images in the memorisation check
IMAGE_DATASETS = ("mnist", "mnist5k", "fashion-mnist")
#: the coloured sets, scored at 32x32 colour by their own feature networks (gankit.data.coloured)
COLOUR_DATASETS = ("coloured-mnist", "coloured-fashion")
COLOUR_SIZE = 32
GREY_SIZE = 28
STACKED = "stacked-mnist"
STACKED_SAMPLES = 25600  # generated samples per Stacked MNIST evaluation (Unrolled GAN; VEEGAN/PacGAN used 26,000)
STACKED_CHUNK = 2000  # samples generated and classified at a time, to bound memory
STACKED_METHOD = ("each channel resized to 28x28 (antialiased bilinear) if needed and classified by the MNIST domain "
                  "classifier (argmax); mode = 100 d1 + 10 d2 + d3 of 1000; a mode counts with >= 1 sample; "
                  "kl = KL(mode histogram || uniform over 1000) in nats")


def _base_protocol(seed: int) -> dict[str, Any]:
    return {"gankit_version": __version__, "torch": torch.__version__, "seed": seed,
            "python": platform.python_version()}


def _subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    if len(x) <= n:
        return x
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx]


def score_images(fake: torch.Tensor, real: torch.Tensor, *, dataset: str, seed: int = 0,
                 classifier: str | Path | None = None, labels: torch.Tensor | None = None) -> dict[str, Any]:
    """All image metrics of `fake` [N, 1, 28, 28] against the reference `real` [M, 1, 28, 28], both in [-1, 1].
    With `labels` [N] (the classes a conditional generator was asked for), also `label_accuracy`: how often the
    domain classifier agrees that the sample shows the class asked for."""
    from .classifier import load_classifier

    net = load_classifier(dataset, classifier)
    f_fake, p_fake = net.embed(fake)
    f_real, _ = net.embed(real)
    knn_real = _subset(f_real, len(f_fake), seed)
    kid_mean, kid_std = metrics.kid(f_fake, f_real, seed=seed)
    precision, recall = metrics.precision_recall(knn_real, f_fake, k=KNN_K_PR)
    density, coverage = metrics.density_coverage(knn_real, f_fake, k=KNN_K_DC)
    scores: dict[str, Any] = {
        "fid": metrics.fid(f_fake, f_real), "kid": kid_mean, "kid_std": kid_std,
        "precision": precision, "recall": recall, "density": density, "coverage": coverage,
        **metrics.classifier_scores(p_fake),
    }
    if labels is not None:
        scores["label_accuracy"] = float((p_fake.argmax(1) == labels).double().mean())
    scores["protocol"] = {
        **_base_protocol(seed), **net.protocol(), "n_generated": len(fake), "n_real_stats": len(real),
        "n_real_knn": len(knn_real), "fid": "Fréchet distance of Gaussian fits to the feature sets",
        "kid": "unbiased MMD^2, kernel (x.y/d + 1)^3, 100 subsets of min(1000, n)",
        "precision_recall": f"Kynkäänniemi et al. 2019, k={KNN_K_PR}",
        "density_coverage": f"Naeem et al. 2020, k={KNN_K_DC}",
        "inception_score": "exp E KL(p(y|x) || p(y)) with the domain classifier, one split",
    }
    return scores


def stacked_digits(images: torch.Tensor, net: FeatureNet) -> torch.Tensor:
    """The digit the domain classifier `net` reads in each channel of Stacked MNIST images [N, 3, H, W] in [-1, 1].
    Channels of another size are resized to 28 x 28 first (antialiased bilinear, as the data pipeline resizes).
    # [N, 3] int64"""
    from ..data.transforms import resize

    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ConfigError(f"Stacked MNIST images must be [N, 3, H, W] (one digit per channel); got {shape}")
    n = images.shape[0]
    grey = images.detach().float().cpu().reshape(n * 3, 1, *images.shape[2:])  # channel c of image i at 3 i + c
    grey = resize(grey, 28)
    _, probs = net.embed(grey)
    return probs.argmax(1).view(n, 3)


def stacked_modes_of_images(images: torch.Tensor, net: FeatureNet) -> dict[str, Any]:
    """`metrics.stacked_modes` of Stacked MNIST images [N, 3, H, W] in [-1, 1], each channel read by `net` (the
    MNIST domain classifier, `load_classifier("mnist")`)."""
    return metrics.stacked_modes(stacked_digits(images, net))


def _chunk_seeds(seed: int, count: int) -> list[int]:
    """`count` seeds for consecutive sampling chunks, drawn from a generator seeded with `seed`: deterministic, and
    unlike seed + i, evaluations with seeds s and s + 1 share no chunk."""
    gen = torch.Generator().manual_seed(int(seed))
    return [int(v) for v in torch.randint(0, 2**62, (count,), generator=gen)]


def _finite(x: torch.Tensor, G: Any) -> torch.Tensor:
    """`x`, G's samples, if every value is finite: NaN or inf ones (a diverged or damaged generator) would fail
    inside the metrics (a matrix square root, k-NN distances) instead of naming the run."""
    if not bool(torch.isfinite(x).all()):
        raise CheckpointError(f"{G.source}: the generator's samples are not finite (NaN or inf): its weights "
                              "diverged or are damaged; score an earlier checkpoint")
    return x


def _evaluate_stacked(G: Any, *, n: int, seed: int, classifier: str | Path | None) -> dict[str, Any]:
    from .classifier import load_classifier

    if len(G.data_shape) != 3 or G.data_shape[0] != 3:
        raise ConfigError(f"a stacked-mnist run must generate 3-channel images; this one generates {G.data_shape}")
    net = load_classifier("mnist", classifier)
    seeds = _chunk_seeds(seed, -(-n // STACKED_CHUNK))
    digits = []
    for i, chunk_seed in enumerate(seeds):
        start = i * STACKED_CHUNK
        k = min(STACKED_CHUNK, n - start)
        labels = (torch.arange(start, start + k) % G.num_classes) if G.num_classes else None  # even class shares
        digits.append(stacked_digits(_finite(G.sample(k, labels=labels, seed=chunk_seed).cpu(), G), net))
    scores: dict[str, Any] = metrics.stacked_modes(torch.cat(digits))
    scores["protocol"] = {
        **_base_protocol(seed), **net.protocol(), "dataset": STACKED, "n_generated": n, "method": STACKED_METHOD,
        "sampling": f"chunks of {STACKED_CHUNK}, each with its own seed drawn from torch.Generator(seed)",
        "image_size": list(G.data_shape[1:]), "run": str(G.source), "step": G.step, "ema": G.uses_ema,
        "conditional": bool(G.num_classes),
    }
    return scores


def _reference(dataset: str, data_dir: str | None, split: str = "train") -> torch.Tensor:
    from ..data import load_dataset

    return load_dataset(dataset, split=split, data_dir=data_dir).x


def evaluate_run(run: str | Path, *, n: int | None = None, seed: int = 0, ema: bool = True,
                 data_dir: str | None = None, classifier: str | Path | None = None,
                 cas: bool = False, inception: bool = False,
                 inception_weights: str | Path | None = None, parzen: bool = False) -> dict[str, Any]:
    """Scores of the generator in `run` (a run directory or checkpoint) against its own data set. Image runs
    also get `memorisation` (None when no real test split is at hand) and, with `cas=True` for a conditional
    run, the Classification Accuracy Score. With `inception=True`, Inception-v3 FID/IS through torch-fidelity
    (the only scores for colour `folder:` runs; for MNIST-family runs they are added, or `inception.skipped`
    says why not)."""
    from ..api import load
    from ..data import TOY_MODES, _canonical, gaussian1d_params

    G = load(run, ema=ema)
    cfg = G.config
    name = cfg.dataset
    from ..methods import get_method, method_names

    method = get_method(cfg.method) if cfg.method in method_names() else None
    if method is not None and method.own_scores:  # a translator: scored on held-out inputs, not samples of noise
        if cas or inception or parzen:
            raise ConfigError(f"--cas, --inception and --parzen score generators of noise; a {cfg.method} run "
                              "translates images and is scored on its translations (drop them)")
        return method.scores(G, n=n, seed=seed, data_dir=data_dir, classifier=classifier)
    if parzen and name not in IMAGE_DATASETS:
        raise ConfigError(f"--parzen follows the MNIST protocol ({', '.join(IMAGE_DATASETS)}); this run trained "
                          f"on {name!r}")
    if _canonical(name) == STACKED:
        return _evaluate_stacked(G, n=n or STACKED_SAMPLES, seed=seed, classifier=classifier)
    if name in TOY_MODES or name == "gaussian1d":
        n = n or TOY_SAMPLES
        x = _finite(G.sample(n, seed=seed).cpu(), G)
        if name == "gaussian1d":
            mu, sigma = gaussian1d_params(cfg.toy_options or None)
            scores: dict[str, Any] = {"jsd": metrics.jsd_1d(x.view(-1), mu, sigma)}
            method = f"JS divergence (nats) between N({mu}, {sigma}) and the samples, numerically"
        else:
            centres, std = TOY_MODES[name]
            scores = metrics.mode_stats(x, centres, std)
            method = "nearest centre; high quality within 3 std; a mode counts with >= 20 HQ samples"
        scores["protocol"] = {**_base_protocol(seed), "dataset": name, "n_generated": n, "method": method,
                              "run": str(G.source), "step": G.step, "ema": G.uses_ema}
        return scores
    if inception and (name in TOY_MODES or name == "gaussian1d"):
        raise ConfigError(f"Inception metrics score images; {name!r} is toy data")

    if name in COLOUR_DATASETS:
        if cas or parzen:
            raise ConfigError(f"--cas and --parzen follow the MNIST protocol on 28x28 grey images; {name!r} is "
                              "scored at 32x32 colour (drop them)")
        scores = _evaluate_colour(G, n=n or 10000, seed=seed, data_dir=data_dir or cfg.data_dir,
                                  classifier=classifier)
        if inception:
            from .inception import InceptionUnavailable, inception_scores

            try:
                scores.update(inception_scores(scores.pop("_fake"), scores.pop("_real"), weights=inception_weights))
            except InceptionUnavailable as e:
                scores["inception"] = {"skipped": str(e)}
        scores.pop("_fake", None), scores.pop("_real", None)
        return scores
    if name not in IMAGE_DATASETS:
        if inception and len(G.data_shape) == 3:
            return _evaluate_inception_only(G, n=n or 10000, seed=seed, data_dir=data_dir or cfg.data_dir,
                                            weights=inception_weights)
        raise ConfigError(f"no offline metric for data set {name!r}: the feature networks cover "
                          f"{', '.join(IMAGE_DATASETS)} and {STACKED} (toys: ring8, grid25, gaussian1d); for "
                          "colour images use --inception (Inception-v3 FID/IS, an optional extra)")
    c, h, w = (tuple(G.data_shape) + (0, 0, 0))[:3]
    if c != 1 or h != w or len(G.data_shape) != 3:
        raise ConfigError(f"the feature networks take 28x28 grey images; this run generates {G.data_shape}")
    if h != GREY_SIZE and cas:
        raise ConfigError(f"--cas trains its classifier on the run's samples and tests it on 28x28 images; this "
                          f"run generates {h}x{w}")
    n = n or 10000
    labels = None
    if G.num_classes:  # conditional: classes in equal shares, as the data has them
        labels = torch.arange(n) % G.num_classes
    stages = 2 + cas + parzen + ("classify" in G.extras)
    with progress.bar(stages, "evaluate", unit="stage") as bar:
        bar.set_description_str("evaluate: sampling")
        fake = to_feature_size(_finite(G.sample(n, labels=labels, seed=seed).cpu(), G), GREY_SIZE)
        bar.update(1)
        bar.set_description_str("evaluate: features and scores")
        scores, real, test = _score_generated(fake, name, data_dir=data_dir or cfg.data_dir, seed=seed,
                                              classifier=classifier, labels=labels)
        scores["protocol"].update({"run": str(G.source), "step": G.step, "ema": G.uses_ema,
                                   "conditional": bool(G.num_classes)})
        if h != GREY_SIZE:
            scores["protocol"]["resized"] = (f"the {h}x{w} samples resized to 28x28 (antialiased bilinear) for "
                                             "the feature network; the reference is the native 28x28 data")
        if G.has_styles:
            scores.update(_ppl(G, name, classifier, seed))
        bar.update(1)
        if cas:
            if test is None:
                raise ConfigError("the Classification Accuracy Score needs the real test split (--data-dir)")
            from .cas import classification_accuracy_score

            bar.set_description_str("evaluate: classification accuracy score")
            scores.update(classification_accuracy_score(G, test.x, test.y, seed=seed))
            bar.update(1)
        if parzen:
            bar.set_description_str("evaluate: Parzen window")
            scores.update(_parzen(fake, name, data_dir or cfg.data_dir, "generated samples"))
            bar.update(1)
        if "classify" in G.extras:  # a method whose D is a classifier (sgan): its error on the real test split
            if test is None:
                raise ConfigError("test_error needs the real test split of the run's data set (--data-dir)")
            scores.update(classifier_test_error(G, test.x, test.y))
            bar.update(1)
    if inception:
        from .inception import InceptionUnavailable, inception_scores

        try:
            scores.update(inception_scores(fake, real, weights=inception_weights))
        except InceptionUnavailable as e:
            scores["inception"] = {"skipped": str(e)}
    return scores


def to_feature_size(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images [N, C, S, S] in [-1, 1] as a feature network of input size `size` reads them: as they are at that
    size; padded with their edge pixels when smaller by an even margin (a 28x28 coloured image on its background,
    as the 32x32 coloured sets are made); else resized (antialiased bilinear, as the data pipeline resizes)."""
    from ..data.transforms import resize

    s = x.shape[-1]
    if s == size:
        return x
    if s < size and (size - s) % 2 == 0:
        p = (size - s) // 2
        return torch.nn.functional.pad(x, (p, p, p, p), mode="replicate")
    return resize(x.float(), size)


def _ppl(G: Any, dataset: str, classifier: str | Path | None, seed: int) -> dict[str, Any]:
    """Perceptual path length of a style-based run in the domain classifier's feature space (evaluation.ppl)."""
    from .classifier import INPUT_SHAPES, load_classifier
    from .ppl import perceptual_path_length

    net = load_classifier(dataset, classifier)
    size = INPUT_SHAPES.get(net.dataset, (1, GREY_SIZE, GREY_SIZE))[-1]
    scores = perceptual_path_length(G.net, lambda x: net.model.features(to_feature_size(x, size)), seed=seed)
    scores["ppl_protocol"].update(net.protocol())
    return scores


def _evaluate_colour(G: Any, *, n: int, seed: int, data_dir: str | None,
                     classifier: str | Path | None) -> dict[str, Any]:
    """A coloured-set run: its samples (padded or resized to 32x32) against the set's 32x32 training split, in
    the feature space of the set's own shipped network. The generated and reference images ride along under
    `_fake` / `_real` for the Inception path."""
    from ..data import load_dataset

    name = G.config.dataset
    if len(G.data_shape) != 3 or G.data_shape[0] != 3:
        raise ConfigError(f"a {name} run must generate colour images [3, S, S]; this one generates {G.data_shape}")
    labels = (torch.arange(n) % G.num_classes) if G.num_classes else None
    with progress.bar(2, "evaluate", unit="stage") as bar:
        bar.set_description_str("evaluate: sampling")
        fake = _finite(G.sample(n, labels=labels, seed=seed).cpu(), G)
        bar.update(1)
        bar.set_description_str("evaluate: features and scores")
        real = load_dataset(name, split="train", data_dir=data_dir, image_size=COLOUR_SIZE, compact=True).x
        scores = score_images(to_feature_size(fake, COLOUR_SIZE), real, dataset=name, seed=seed,
                              classifier=classifier, labels=labels)
        bar.update(1)
    size = G.data_shape[-1]
    scores["memorisation"] = None
    scores["protocol"].update({
        "dataset": name, "reference": f"{name} train split at 32x32", "run": str(G.source), "step": G.step,
        "ema": G.uses_ema, "conditional": bool(G.num_classes),
        "memorisation": "skipped for the coloured sets (nearest neighbours among 60,000 colour images)"})
    if size != COLOUR_SIZE:
        how = "padded with their edge pixels" if size < COLOUR_SIZE else "resized (antialiased bilinear)"
        scores["protocol"]["resized"] = f"the {size}x{size} samples {how} to 32x32 for the feature network"
    if G.has_styles:
        scores.update(_ppl(G, name, classifier, seed))
    scores["_fake"], scores["_real"] = fake, real
    return scores


def classifier_test_error(G: Any, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> dict[str, Any]:
    """`test_error` (fraction misclassified) and `test_errors` (count) of `G.classify` on the test images x
    [N, C, H, W] (uint8 pixels or floats in [-1, 1]) with labels y [N]."""
    from ..data.transforms import as_float

    wrong = 0
    for i in range(0, len(x), batch_size):
        pred = G.classify(as_float(x[i:i + batch_size])).argmax(1).cpu()
        wrong += int((pred != y[i:i + batch_size].cpu()).sum())
    return {"test_error": wrong / len(x), "test_errors": wrong, "test_n": len(x)}


def _score_generated(fake: torch.Tensor, name: str, *, data_dir: str | None, seed: int,
                     classifier: str | Path | None,
                     labels: torch.Tensor | None) -> tuple[dict[str, Any], torch.Tensor, Any]:
    """The scores of generated MNIST-family images `fake` [N, 1, 28, 28] in [-1, 1], wherever they came from (a
    run's generator, a file of images): `score_images` against the training split of `name`, and memorisation
    against its test split (None when that cannot be loaded). Also returns the reference and the test split."""
    real = _reference(name, data_dir)
    scores = score_images(fake, real, dataset=name, seed=seed, classifier=classifier, labels=labels)
    scores["protocol"].update({"dataset": name, "reference": f"{name} train split"})
    test = _test_split(name, data_dir)
    scores["memorisation"] = None
    if test is not None:
        from .memorisation import memorisation_scores

        scores["memorisation"] = memorisation_scores(fake[:MEMO_SAMPLES], _subset(test.x, MEMO_SAMPLES, seed), real)
    scores["protocol"]["memorisation"] = (
        f"pixel L2 to the nearest training image, {MEMO_SAMPLES} generated vs {MEMO_SAMPLES} real test images"
        if test is not None else "skipped: no real test split available (needs the MNIST-family IDX files)")
    return scores, real, test


def evaluate_images(path: str | Path, dataset: str, *, n: int | None = None, seed: int = 0,
                    data_dir: str | None = None, classifier: str | Path | None = None,
                    parzen: bool = False) -> dict[str, Any]:
    """Scores of the images in `path` -- a folder of image files or a .npy/.npz (see `read_images`) -- against
    the real `dataset` (mnist, fashion-mnist or mnist5k), exactly as a run's samples are scored: the same keys
    (`label_accuracy` too when a .npz carries labels, as for a conditional run)."""
    if dataset not in IMAGE_DATASETS:
        raise ConfigError(f"--images is scored in the feature space of {', '.join(IMAGE_DATASETS)}; got {dataset!r}")
    fake, labels = read_images(path, dataset=dataset, n=n, seed=seed)
    scores, _, _ = _score_generated(fake, dataset, data_dir=data_dir, seed=seed, classifier=classifier,
                                    labels=labels)
    scores["protocol"].update({"images": str(path), "generated": f"{len(fake)} images from {path}",
                               "conditional": labels is not None})
    if parzen:
        scores.update(_parzen(fake, dataset, data_dir, f"images from {path}"))
    return scores


def read_images(path: str | Path, *, dataset: str, n: int | None = None,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images to score from a folder (every image file in it, sub-folders included) or a .npy/.npz file (the
    `npy:` data source's formats), as float32 [N, 1, 28, 28] in [-1, 1], with a .npz's labels (else None).
    `n` keeps a seeded random subset. The shipped feature networks read 28x28 grey digits: other sizes and
    colour images are refused rather than resized (a grey image saved as RGB, equal channels, is fine)."""
    from ..data import load_dataset
    from ..data.arrays import NPY_SUFFIXES
    from ..data.transforms import as_float
    from ..errors import DataError

    p = Path(path).expanduser()
    if p.is_dir():
        _check_folder_sizes(p, dataset)
        data = load_dataset(f"folder:{p}", image_size=28, channels=3, n=n, seed=seed, compact=True)
        labels = None  # sub-folder names are not class indices
    elif p.suffix.lower() in NPY_SUFFIXES:
        data = load_dataset(f"npy:{p}", n=n, seed=seed, compact=True)
        labels = data.y
    elif not p.exists():
        raise DataError(f"{p}: no such file or directory")
    else:
        raise ConfigError(f"{p}: --images takes a folder of images or a .npy/.npz file")
    x = data.x  # [N, C, H, W]: uint8 pixels, or float in [-1, 1] (float arrays)
    if tuple(x.shape[2:]) != (28, 28):
        raise DataError(f"{p}: images are {x.shape[2]}x{x.shape[3]}; the {dataset} feature network scores "
                          "28x28 grey images")
    if x.shape[1] == 3:
        if not (torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])):
            raise DataError(f"{p}: colour images; the {dataset} feature network scores 28x28 grey images")
        x = x[:, :1]
    if labels is not None and int(labels.max()) >= 10:
        raise DataError(f"{p}: labels must be {dataset} classes 0-9; found {int(labels.max())}")
    return as_float(x).contiguous(), labels


def _check_folder_sizes(root: Path, dataset: str) -> None:
    """Refuse a folder holding any image other than 28x28 before decoding it (the folder source would resize)."""
    from PIL import Image

    from ..data.folder import list_images
    from ..errors import DataError

    for f in list_images(root):
        try:
            with Image.open(f) as im:
                size = im.size
        except Exception:  # unreadable: the loader names the file and the fault
            continue
        if size != (28, 28):
            raise DataError(f"{f}: a {size[0]}x{size[1]} image; the {dataset} feature network scores 28x28 grey "
                              "images")


def _evaluate_inception_only(G: Any, *, n: int, seed: int, data_dir: str | None,
                             weights: str | Path | None) -> dict[str, Any]:
    """Colour (folder) runs: Inception-v3 FID/IS against the run's training images; fails if unavailable."""
    from ..data import load_dataset
    from .inception import inception_scores

    cfg = G.config
    labels = (torch.arange(n) % G.num_classes) if G.num_classes else None
    fake = _finite(G.sample(n, labels=labels, seed=seed).cpu(), G)
    real = load_dataset(cfg.dataset, split="train", data_dir=data_dir, image_size=cfg.image_size,
                        channels=cfg.channels, seed=cfg.seed).x
    scores: dict[str, Any] = inception_scores(fake, real, weights=weights)
    scores["protocol"] = {**_base_protocol(seed), "dataset": cfg.dataset, "n_generated": n, "n_real": len(real),
                          "reference": f"{cfg.dataset} (training images)", "run": str(G.source), "step": G.step,
                          "ema": G.uses_ema, **scores.pop("inception_protocol")}
    return scores


def _test_split(name: str, data_dir: str | None) -> Any:
    """The real test split for memorisation and CAS (MNIST's for mnist5k), or None when it cannot be loaded."""
    from ..data import load_dataset
    from ..errors import DataError

    try:
        return load_dataset("mnist" if name == "mnist5k" else name, split="test", data_dir=data_dir)
    except (DataError, ConfigError, OSError):
        return None


def evaluate_real(dataset: str, *, data_dir: str | None = None, seed: int = 0,
                  classifier: str | Path | None = None, parzen: bool = False) -> dict[str, Any]:
    """The real test split scored against the real training split (for mnist5k, which has no test split of its
    own: 5,000 MNIST test digits against the subset). For stacked-mnist: the modes and KL of 25,600 real stacks of
    MNIST test digits, read by the same classifier as generated ones."""
    if dataset == STACKED:
        from ..data import load_dataset
        from .classifier import load_classifier

        net = load_classifier("mnist", classifier)
        real = load_dataset(STACKED, split="test", data_dir=data_dir, n=STACKED_SAMPLES, seed=seed).x
        scores = stacked_modes_of_images(real, net)
        scores["protocol"] = {**_base_protocol(seed), **net.protocol(), "dataset": STACKED,
                              "n_generated": len(real), "method": STACKED_METHOD,
                              "generated": f"{len(real)} real stacks of MNIST test digits"}
        return scores
    if dataset not in IMAGE_DATASETS:
        raise ConfigError(f"--real scores image data sets: {', '.join(IMAGE_DATASETS + (STACKED,))}; "
                          f"got {dataset!r}")
    if dataset == "mnist5k":
        real, test_name = _reference("mnist5k", data_dir), "mnist test split (5,000 of it)"
        fake = _subset(_reference("mnist", data_dir, split="test"), len(real), seed)
    else:
        real, test_name = _reference(dataset, data_dir), f"{dataset} test split"
        fake = _reference(dataset, data_dir, split="test")
    scores = score_images(fake, real, dataset=dataset, seed=seed, classifier=classifier)
    scores["protocol"].update({"dataset": dataset, "reference": f"{dataset} train split",
                               "generated": test_name})
    if parzen:  # the protocol checked on real data: held-out training images stand in for the samples
        train = _reference(dataset, data_dir)
        scores.update(_parzen(train[:len(train) - parzen_mod.N_VALID], dataset, data_dir,
                              "training images (not the validation ones)"))
    return scores


def _parzen(samples: torch.Tensor, dataset: str, data_dir: str | None, what: str) -> dict[str, Any]:
    """Parzen-window scores of the first 10,000 `samples` [N, 1, 28, 28] in [-1, 1]: sigma chosen on the last
    1,000 images of `dataset`'s training split, the log-likelihood of its test split (MNIST's for mnist5k)."""
    if dataset == STACKED or dataset not in IMAGE_DATASETS:
        raise ConfigError(f"--parzen follows the MNIST protocol ({', '.join(IMAGE_DATASETS)}); got {dataset!r}")
    test = _test_split(dataset, data_dir)
    if test is None:
        raise ConfigError(f"--parzen needs the real {'mnist' if dataset == 'mnist5k' else dataset} test split "
                          "(--data-dir or $GANKIT_DATA with the IDX files)")
    valid = _reference(dataset, data_dir)[-parzen_mod.N_VALID:]
    samples = samples[:parzen_mod.N_SAMPLES]
    scores = parzen_mod.parzen_scores(samples, valid, test.x[:parzen_mod.N_TEST])
    n_test = min(len(test.x), parzen_mod.N_TEST)
    scores["parzen_protocol"] = parzen_mod.protocol(len(samples), len(valid), n_test, what)
    return scores


def format_scores(scores: dict[str, Any]) -> str:
    """A short human summary (the JSON holds everything)."""
    order = ("fid", "fid_real_vs_real", "fid_real_griffin_lim", "kid", "inception_fid", "inception_is", "precision", "recall", "density", "coverage",
             "inception_score", "class_kl",
             "classes_present", "confident", "label_accuracy", "accuracy_real_griffin_lim", "cas", "test_error", "modes", "kl", "hq", "jsd", "parzen_ll",
             "cycle_l1", "translated_label_accuracy", "reference_label_accuracy", "translated_fid", "reference_fid",
             "l1_to_truth", "accuracy", "psnr", "ssim", "l1", "masked_l1", "colour_error", "ppl")
    parts = []
    for key in order:
        if key in scores:
            v = scores[key]
            parts.append(f"{key}={v:.4g}" if isinstance(v, float) else f"{key}={v}")
    if isinstance(scores.get("inception"), dict) and "skipped" in scores["inception"]:
        parts.append("inception=skipped")
    if isinstance(scores.get("bicubic"), dict):
        parts.append("bicubic: " + " ".join(f"{k}={v:.4g}" for k, v in scores["bicubic"].items()))
    if scores.get("memorisation"):
        parts.append(f"copy_fraction={scores['memorisation']['copy_fraction']:.3g}")
    proto = scores.get("protocol", {})
    where = proto.get("run") or proto.get("generated", "")
    return f"gankit: {where} vs {proto.get('reference', proto.get('dataset', ''))}: " + " ".join(parts)
