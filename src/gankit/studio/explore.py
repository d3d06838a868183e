"""The Explore page's data: a run's generator (through `gankit.load`) sampled as a grid, with the first latent
dimensions, the class and InfoGAN's codes set by the page, and walks between two of the grid's samples.

Images come back as PNG bytes (the grid the page shows and downloads); toy runs as points the page draws."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..api import Generator, load, slerp_between
from ..checkpoint import list_checkpoints
from ..errors import GankitError, shown
from ..viz.grid import array_to_image, make_grid
from .security import RequestError, bounded_float, bounded_int, resolve_run

MAX_GRID = 64  # samples in one grid
MAX_TOY_POINTS = 2000
MAX_SLIDERS = 8  # the first latent dimensions the page offers as sliders
SLIDER_RANGE = (-3.0, 3.0)  # a Gaussian prior's +-3 sigma
CODE_RANGE = (-1.0, 1.0)  # InfoGAN's continuous codes live in (-1, 1)
MAX_STEPS = 16  # points of an interpolation
CACHE = 4  # generators kept loaded


class Explorer:
    """Loads generators on demand and keeps the last few (a run's newest checkpoint changes: it is reloaded)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: OrderedDict[tuple[str, int], Generator] = OrderedDict()
        self._lock = threading.Lock()

    def generator(self, name: str) -> Generator:
        path = resolve_run(self.root, name)
        ckpts = list_checkpoints(path)
        if not ckpts:
            raise RequestError(f"run {shown(name, 80)!r} has no checkpoint yet", status=404)
        key = (str(path), ckpts[-1][0])
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            G = load(path)
            G.z_dim  # a translator has no noise to explore  # noqa: B018
        except GankitError as e:
            raise RequestError(f"run {shown(name, 80)!r}: {shown(str(e), 300)}", status=422) from None
        with self._lock:
            self._cache[key] = G
            while len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        return G

    def info(self, name: str) -> dict[str, Any]:
        G = self.generator(name)
        net = G.net
        return {"name": name, "step": G.step, "z_dim": G.z_dim, "data_shape": list(G.data_shape),
                "toy": len(G.data_shape) == 1, "num_classes": G.num_classes,
                "class_names": [shown(c, 40) for c in (G.class_names or [])][:1000],
                "codes": {"cat": int(getattr(net, "info_cat", 0)), "cont": int(getattr(net, "info_cont", 0))},
                "sliders": min(MAX_SLIDERS, int(getattr(net, "info_noise", G.z_dim))),
                "dataset": shown(G.config.dataset, 80), "method": G.config.method, "uses_ema": G.uses_ema}

    # ------------------------------------------------------------------ requests
    def _latents(self, G: Generator, q: dict[str, str], n: int) -> tuple[Tensor, Tensor | None]:
        """z [n, z_dim] and labels [n] (or None) from the query: seed, z (comma-separated slider values for the
        first dimensions), cls, code (categorical) and cont (continuous codes)."""
        seed = bounded_int(q.get("seed", "0"), "seed", 0, 2**31 - 1)
        z = G.sample_z(n, seed)
        sliders = _floats(q.get("z", ""), "z", MAX_SLIDERS, SLIDER_RANGE)
        noise_dims = int(getattr(G.net, "info_noise", G.z_dim))
        if len(sliders) > min(noise_dims, MAX_SLIDERS):
            raise RequestError(f"z: this generator has {min(noise_dims, MAX_SLIDERS)} slider dimensions, got "
                               f"{len(sliders)} values")
        if sliders:
            z[:, :len(sliders)] = torch.tensor(sliders)
        cat, cont = int(getattr(G.net, "info_cat", 0)), int(getattr(G.net, "info_cont", 0))
        if q.get("code", "") != "":
            if not cat:
                raise RequestError("code: this generator has no categorical code (not an InfoGAN run)")
            z = G.with_code(z, bounded_int(q["code"], "code", 0, cat - 1))
        conts = _floats(q.get("cont", ""), "cont", max(cont, 0), CODE_RANGE)
        if conts:
            if len(conts) != cont:
                raise RequestError(f"cont: this generator has {cont} continuous codes, got {len(conts)} values")
            z = G.net.with_codes(z, cont=torch.tensor(conts).expand(n, cont))
        labels = None
        if q.get("cls", "") != "":
            if not G.num_classes:
                raise RequestError("cls: this generator is unconditional")
            labels = G.labels(n, bounded_int(q["cls"], "cls", 0, G.num_classes - 1))
        elif G.num_classes:
            labels = G.labels(n)  # classes cycled, so a grid shows every class
        return z, labels

    def grid(self, name: str, q: dict[str, str]) -> tuple[str, Any]:
        """("png", bytes) for images, ("points", [[x, y], ...]) for toys."""
        G = self.generator(name)
        toy = len(G.data_shape) == 1
        n = bounded_int(q.get("n", "16"), "n", 1, MAX_TOY_POINTS if toy else MAX_GRID)
        z, y = self._latents(G, q, n)
        with torch.no_grad():
            x = G(z, y)  # [n, *data_shape]
        return _encode(x, toy, nrow=bounded_int(q.get("nrow", "0"), "nrow", 0, MAX_GRID))

    def interpolate(self, name: str, q: dict[str, str]) -> tuple[str, Any]:
        """A walk from grid sample a to grid sample b (indices into the grid of the same query)."""
        G = self.generator(name)
        toy = len(G.data_shape) == 1
        n = bounded_int(q.get("n", "16"), "n", 1, MAX_TOY_POINTS if toy else MAX_GRID)
        a = bounded_int(q.get("a", "0"), "a", 0, n - 1)
        b = bounded_int(q.get("b", "1"), "b", 0, n - 1)
        steps = bounded_int(q.get("steps", "8"), "steps", 2, MAX_STEPS)
        z, y = self._latents(G, q, n)
        t = torch.linspace(0, 1, steps).view(1, steps, 1)
        za, zb = z[a:a + 1], z[b:b + 1]  # [1, z_dim]
        if q.get("slerp", "") == "1":
            zs = slerp_between(za, zb, t).reshape(steps, -1)
        else:
            zs = (za[:, None] * (1 - t) + zb[:, None] * t).reshape(steps, -1)
        ys = None if y is None else y[a:a + 1].expand(steps)
        with torch.no_grad():
            x = G(zs, ys)
        return _encode(x, toy, nrow=steps)


def _floats(text: str, name: str, most: int, bounds: tuple[float, float]) -> list[float]:
    if text is None or text == "":
        return []
    parts = text.split(",")
    if len(parts) > most or len(text) > 400:
        raise RequestError(f"{name}: at most {most} values")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise RequestError(f"{name}: {shown(p, 40)!r} is not a number") from None
        out.append(bounded_float(v, name, *bounds))
    return out


def _encode(x: Tensor, toy: bool, nrow: int = 0) -> tuple[str, Any]:
    if toy:
        x = x[torch.isfinite(x).all(1)]
        return "points", [[round(v, 4) for v in p] for p in x.tolist()]
    arr = make_grid(x, nrow=nrow or None, scale=2 if x.shape[-1] <= 32 else 1)
    buf = io.BytesIO()
    array_to_image(arr).save(buf, format="PNG")
    return "png", buf.getvalue()
