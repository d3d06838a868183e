"""Export a trained generator to where the ecosystem looks for one.

- ONNX (`pip install 'gankit[onnx]'`): the (EMA) generator as a graph with input `z` [batch, z_dim] float32
  (plus `labels` [batch] int64 for conditional runs) and output `samples` [batch, *data_shape], the batch axis
  dynamic; an image-to-image run's translator (pix2pix) takes `images` [batch, *input_shape] instead (the task's
  input: inpaint's last channel is the 0/1 hole mask) and outputs `samples` [batch, *data_shape]. Runs in
  onnxruntime and anything else that reads ONNX; BatchNorm is folded in its eval form.
- safetensors: the bare generator weights (no optimizer, no D) plus a JSON config beside them (`g.safetensors` +
  `g.json`), enough for `gankit.load("g.safetensors")` to rebuild the generator and for other code to read.

    gankit.export.export_generator("runs/demo", format="onnx", out="g.onnx")
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import integrity
from .atomic import atomic_output, atomic_write_text
from .errors import ConfigError

FORMATS = ("onnx", "safetensors")
from .checkpoint import BARE_FORMAT, BARE_VERSION
ONNX_HINT = "pip install 'gankit[onnx]'"


def export_generator(run: str | Path, *, format: str = "onnx", out: str | Path, ema: bool = True,
                     check: bool = True) -> Path:
    """Write the run's generator (its EMA copy unless `ema=False`) to `out` as `format` ("onnx" or
    "safetensors"); returns the path written. With `check`, an ONNX file is run once in onnxruntime (when
    installed) and compared with PyTorch; a mismatch above 1e-4 is an error."""
    from .api import load

    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if format == "onnx":
        _require_onnx()  # before loading anything: a missing package is a one-line error
    G = load(run, ema=ema)
    if not hasattr(G.net, "z_dim"):  # the formats describe a noise -> image network (input z, z_dim in the JSON)
        raise ConfigError(f"{G.source}: gankit export writes generators that draw from noise; this run's "
                          f"{G.config.method} network translates images (use gankit.load(run) in Python)")
    if format == "onnx":
        path = export_onnx(G.net, out)
        if check and importlib.util.find_spec("onnxruntime") is not None:
            diff = onnx_max_difference(path, G.net)
            if not diff <= 1e-4:
                raise ConfigError(f"{path}: onnxruntime output differs from PyTorch by {diff:.3g} (> 1e-4)")
        return path
    return export_safetensors(G.net, out, config=G.config.to_dict(), step=G.step, uses_ema=G.uses_ema,
                              class_names=G.class_names)


# ---------------------------------------------------------------------------------------------------- ONNX
class _OnnxGenerator(nn.Module):
    """The generator with the inputs an ONNX consumer passes: z, and labels for a conditional one."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z, labels)  # [N, z_dim] (+ [N]) -> [N, *data_shape]


def _require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"ONNX export needs {' and '.join(missing)}, not installed: {ONNX_HINT}")


def input_names(net: nn.Module) -> list[str]:
    """The graph's input names: a translator's images, or a generator's z (and labels)."""
    if hasattr(net, "in_shape"):
        return ["images"]
    return ["z", "labels"] if int(net.num_classes) else ["z"]


def example_inputs(net: nn.Module, n: int = 4, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    if hasattr(net, "in_shape"):  # a translator (gankit.models.unet): images at its input size, in [-1, 1]
        return (torch.rand((n, *net.in_shape), generator=g) * 2 - 1,)
    z = torch.randn(n, int(net.z_dim), generator=g)
    if int(net.num_classes):
        return z, torch.randint(0, int(net.num_classes), (n,), generator=g)
    return (z,)


def export_onnx(net: nn.Module, out: str | Path) -> Path:
    """`net` (a gankit generator) as an ONNX file with a dynamic batch axis, through torch.onnx's exporter."""
    _require_onnx()
    out = Path(out)
    module = _OnnxGenerator(net).eval()
    args = example_inputs(net)
    batch = torch.export.Dim("batch")
    names = input_names(net)
    dynamic = {param: {0: batch} for param in ("z", "labels")[:len(args)]}  # keyed by the wrapper's parameters
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the exporter's progress lines and torchvision notices are noise here
    try:  # through a temporary file and a rename: a failed export leaves `out` as it was, a link there is replaced
        with atomic_output(out) as tmp, torch.no_grad(), warnings.catch_warnings(), \
                contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), dynamo=True, dynamic_shapes=dynamic, input_names=names,
                              output_names=["samples"], external_data=False, verbose=False)
    except Exception as e:  # the exporter raises many types; name the model and the first line
        raise ConfigError(f"ONNX export of the {getattr(net, 'model_name', '')} generator failed: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    finally:
        quiet.setLevel(level)
    return out


def onnx_max_difference(path: str | Path, net: nn.Module, n: int = 5, seed: int = 1) -> float:
    """Largest |onnxruntime - PyTorch| over n samples (n differs from the export batch, so the batch axis is
    exercised)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    args = example_inputs(net, n=n, seed=seed)
    feeds = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)}
    got = torch.from_numpy(session.run(["samples"], feeds)[0])
    with torch.no_grad():
        want = net.eval()(*args)
    return float((got - want.cpu()).abs().max())


# ---------------------------------------------------------------------------------------------------- safetensors
def export_safetensors(net: nn.Module, out: str | Path, *, config: dict[str, Any], step: int, uses_ema: bool,
                       class_names: list[str] | None = None) -> Path:
    """Bare weights `out` (keys as in net.state_dict()) and `out` with suffix .json: what rebuilds the net."""
    from safetensors.torch import save_file

    out = Path(out)
    if out.suffix == ".json":
        raise ConfigError(f"--out {out}: give the weights file (e.g. g.safetensors); its config goes to a .json "
                          "beside it")
    cfg_path = out.with_suffix(".json")
    weights = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    with atomic_output(out) as tmp:  # both files through a temporary file and a rename (links there are replaced)
        save_file(weights, str(tmp), metadata={"format": BARE_FORMAT, "config": cfg_path.name})
    spec = {"format": BARE_FORMAT, "version": BARE_VERSION, "weights": out.name, "step": step, "ema": uses_ema,
            "sha256": integrity.digest(weights),  # gankit.load checks the weights against it
            "model": getattr(net, "model_name", None), "z_dim": int(net.z_dim),
            "num_classes": int(net.num_classes), "data_shape": list(net.data_shape), "class_names": class_names,
            "prior": config.get("prior"), "config": config}
    atomic_write_text(cfg_path, json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return out
