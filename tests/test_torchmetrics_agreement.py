"""gankit's FID and KID against torchmetrics' independent implementations, given the same feature extractor.

torchmetrics accepts any nn.Module as its feature network; we hand it the shipped MNIST classifier's penultimate
layer and the same real images, so both libraries see identical features and only the statistics differ."""

import pytest
import torch
from torch import nn

from gankit.data import load_dataset
from gankit.evaluation import metrics
from gankit.evaluation.classifier import FEATURE_DIM, load_classifier

# the classes are exported from torchmetrics.image only when torch-fidelity is installed; the modules always have them
tm_fid = pytest.importorskip("torchmetrics.image.fid", reason="torchmetrics is in the test extra")
tm_kid = pytest.importorskip("torchmetrics.image.kid", reason="torchmetrics is in the test extra")


class _Features(nn.Module):
    """The classifier's penultimate layer as torchmetrics expects a feature network: images in, [N, d] out."""

    def __init__(self) -> None:
        super().__init__()
        self.net = load_classifier("mnist").model.eval()
        self.num_features = FEATURE_DIM

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x.float())


@pytest.fixture(scope="module")
def image_sets():
    x = load_dataset("mnist5k").x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    real, other = x[perm[:1000]], x[perm[1000:2000]]
    noisy = (other + 0.4 * torch.randn(other.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    return real, other, noisy


@pytest.mark.parametrize("which", ["other", "noisy"])
def test_fid_agrees_with_torchmetrics(image_sets, which):
    real, other, noisy = image_sets
    fake = other if which == "other" else noisy
    feats = _Features()
    tm = tm_fid.FrechetInceptionDistance(feature=feats, reset_real_features=False)
    with torch.no_grad():
        tm.update(real, real=True)
        tm.update(fake, real=False)
        expected = float(tm.compute())
        ours = metrics.fid(feats(real), feats(fake))
    assert ours == pytest.approx(expected, rel=1e-3), (ours, expected)


def test_kid_agrees_with_torchmetrics_on_full_sets(image_sets):
    """With one subset as large as the sets, both KIDs are the same deterministic U-statistic."""
    real, _, noisy = image_sets
    feats = _Features()
    n = len(real)
    tm = tm_kid.KernelInceptionDistance(feature=feats, subsets=1, subset_size=n)
    with torch.no_grad():
        tm.update(real[:n], real=True)
        tm.update(noisy[:n], real=False)
        expected = float(tm.compute()[0])
        ours, _ = metrics.kid(feats(real[:n]), feats(noisy[:n]), subsets=1, subset_size=n)
    assert ours == pytest.approx(expected, rel=1e-3), (ours, expected)
