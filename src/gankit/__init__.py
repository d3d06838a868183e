"""gankit: generative adversarial networks on PyTorch.

    import gankit
    result = gankit.train(gankit.TrainConfig(dataset="mnist5k", steps=1500, out="runs/demo"))
    G = gankit.load("runs/demo")
    images = G.sample(16)              # [16, 1, 28, 28] in [-1, 1]
    scores = gankit.evaluate("runs/demo")   # FID, KID, precision/recall, ... with their protocol
"""

from .config import TrainConfig
from .errors import CheckpointError, ConfigError, DataError, GankitError

__version__ = "0.1.0"

__all__ = ["TrainConfig", "train", "resume", "load", "Generator", "evaluate", "evaluate_real", "export_generator", "GankitError", "ConfigError", "DataError",
           "CheckpointError", "__version__"]


def __getattr__(name: str):  # heavy modules (torch models, matplotlib) load on first use, keeping `import gankit` fast
    if name in ("train", "resume"):
        from . import training as _train

        return getattr(_train, name)
    if name in ("load", "Generator"):
        from . import api

        return getattr(api, name)
    if name in ("export", "export_generator"):  # gankit.export is the module; export_generator its function
        import importlib

        module = importlib.import_module(".export", __name__)
        return module if name == "export" else module.export_generator
    if name in ("evaluate", "evaluate_real"):
        from .evaluation import evaluate as _evaluate

        return _evaluate.evaluate_run if name == "evaluate" else _evaluate.evaluate_real
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")

