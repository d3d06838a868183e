"""Inception-v3 FID and Inception Score for colour data, through torch-fidelity: an optional extra.

gankit's own metrics use the shipped domain classifiers, which need no download. For colour images (a
`folder:PATH` data set) the field's yardstick is Inception-v3 in the TF-FID port that torch-fidelity ships. Its
weights are never downloaded by gankit: they are looked up in this order, and the scores are skipped with a
message naming the missing piece when they are absent:

1. the `weights` argument (`gankit evaluate --inception-weights PATH`);
2. `$GANKIT_INCEPTION_WEIGHTS`;
3. torch hub's cache, where torch-fidelity itself stores them (`<torch.hub.get_dir()>/checkpoints/<WEIGHTS_FILE>`).

The package comes with `pip install 'gankit[inception]'` (torch-fidelity needs a torchvision build that matches
the installed torch).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"


class InceptionUnavailable(ConfigError):
    """torch-fidelity or the Inception-v3 weights are not available on this machine."""


def default_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def find_weights(weights: str | Path | None = None) -> Path:
    """The Inception-v3 weights file, or InceptionUnavailable saying where it was looked for."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise InceptionUnavailable(f"Inception-v3 weights file {path} does not exist")
        return path
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        if not Path(env).is_file():
            raise InceptionUnavailable(f"${WEIGHTS_ENV}={env} is not a file")
        return Path(env)
    path = default_weights_path()
    if path.is_file():
        return path
    raise InceptionUnavailable(f"Inception-v3 weights not found (gankit never downloads them): put {WEIGHTS_URL} "
                               f"at {path}, or pass --inception-weights PATH / set ${WEIGHTS_ENV}")


def _fidelity() -> Any:
    try:
        import torch_fidelity
    except Exception as e:  # ImportError, or a torchvision that does not load beside this torch
        raise InceptionUnavailable("Inception-v3 FID/IS need the optional extra: pip install 'gankit[inception]' "
                                   f"(torch-fidelity with a torchvision matching torch {torch.__version__}); "
                                   f"importing torch_fidelity failed: {type(e).__name__}: {e}") from None
    return torch_fidelity


class Uint8Images(torch.utils.data.Dataset):
    """Images in gankit's range [-1, 1] as torch-fidelity reads them: uint8 [3, H, W] (grey repeated to RGB)."""

    def __init__(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"Inception metrics take images [N, 1 or 3, H, W]; got {tuple(images.shape)}")
        self.images = images.detach().cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = ((self.images[i].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x


def inception_scores(fake: torch.Tensor, real: torch.Tensor, *, weights: str | Path | None = None,
                     batch_size: int = 64, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Inception-v3 FID of `fake` against `real` and the Inception Score of `fake` (10 splits), both [N, C, H, W]
    in [-1, 1], computed by torch-fidelity. Raises InceptionUnavailable (a ConfigError) when torch-fidelity or
    the weights are missing."""
    fidelity = _fidelity()
    path = find_weights(weights)
    out = fidelity.calculate_metrics(
        input1=Uint8Images(fake), input2=Uint8Images(real), isc=True, fid=True, cache=False, verbose=False,
        cuda=torch.device(device).type == "cuda", batch_size=batch_size, save_cpu_ram=True,
        feature_extractor_weights_path=str(path))
    return {
        "inception_fid": float(out["frechet_inception_distance"]),
        "inception_is": float(out["inception_score_mean"]),
        "inception_is_std": float(out["inception_score_std"]),
        "inception_protocol": {
            "library": f"torch-fidelity {getattr(fidelity, '__version__', '?')}",
            "feature_net": "Inception-v3 (TF-FID port, 2015-12-05), pool3 features for FID, logits for IS",
            "weights": path.name, "n_generated": len(fake), "n_real": len(real),
            "input": "uint8 RGB (grey repeated), resized to 299x299 by torch-fidelity", "is_splits": 10,
        },
    }
