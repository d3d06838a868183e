"""gankit: generative adversarial networks on PyTorch."""

__version__ = "0.1.0"
