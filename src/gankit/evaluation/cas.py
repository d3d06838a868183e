"""Classification Accuracy Score (Ravuri & Vinyals 2019): can a conditional generator's samples train a
classifier? Train the domain-classifier architecture only on generated, labelled samples and report its
accuracy on the real test split. A generator whose "7"s are not sevens, or are all the same seven, scores low
even when its FID looks fine."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from .classifier import accuracy, train_classifier


def classification_accuracy_score(G: Any, test_x: torch.Tensor, test_y: torch.Tensor, *, n: int = 10000,
                                  epochs: int = 3, seed: int = 0) -> dict[str, Any]:
    """Train on `n` samples of the conditional generator `G` (a gankit.api.Generator; classes in equal shares),
    test on the real (test_x, test_y)."""
    if not G.num_classes:
        raise ConfigError("the Classification Accuracy Score needs a conditional generator (train with "
                          "--conditional)")
    labels = torch.arange(n) % G.num_classes
    x = G.sample(n, labels=labels, seed=seed).cpu()
    model, _ = train_classifier(x, labels, test_x, test_y, epochs=epochs, seed=seed, log=None)
    return {"cas": accuracy(model, test_x, test_y), "cas_protocol": {
        "n_generated_train": n, "epochs": epochs, "seed": seed, "classifier": "gankit DomainClassifier",
        "test": f"{len(test_y)} real test images", "paper": "Ravuri & Vinyals 2019"}}
