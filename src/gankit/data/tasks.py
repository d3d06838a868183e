"""Paired image-to-image tasks: how an input and its target are made from a data set's images, on the fly.

A task is a pure function of a batch of target images (and, for tasks with random parts, per-sample uniforms
drawn from training's seeded stream): `make(target, u) -> (input, target)`. Nothing is stored; the same seed gives
the same pairs, and a resumed run makes the pairs the uninterrupted one would have.

| task | input | target |
|---|---|---|
| edges | the Sobel edge map of the image, thresholded to {-1, 1}, 1 channel (grey of an RGB image) | the image |
| superres4 / superres2 | the image area-downsampled 4x / 2x (7x7 / 14x14) | the image |
| inpaint | the image with a hole filled with 0 (mid grey), plus the hole as a 0/1 channel | the image |
| colorize | the image's luminance (ITU-R 601 weights), 1 channel | the RGB image |

Inpainting holes, in training: the centre 14x14 square for half the samples, a random rectangle 7-16 pixels a side
at a random place for the others; in evaluation (`u=None`): the centre 14x14 square (Pathak et al. 2016's
protocol).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError

#: the target size every task works at (the U-Net and PatchGAN are sized for it)
SIZE = 28
#: data sets with grey 28x28 images the tasks are made from (colorize needs RGB: coloured-mnist)
GREY_SETS = ("mnist", "mnist5k", "fashion-mnist")
EDGE_THRESHOLD = 0.3  # on the Sobel magnitude of [0, 1] images (kernels / 4): strokes' outlines, no speckle
CENTRE = 14  # side of the evaluation hole


class Task:
    """An input -> target pair made from target images [N, C, 28, 28] in [-1, 1]."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: per-sample uniforms `make` takes from training's stream (0: the task is deterministic)
    uniforms: ClassVar[int] = 0

    def input_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The network input's shape for targets of `target_shape` (C, H, W)."""
        return tuple(target_shape)

    def check_data(self, dataset: str, sample_shape: tuple[int, ...]) -> None:
        """Refuse a data set the task cannot be made from (one line)."""
        if len(sample_shape) != 3:
            raise ConfigError(f"--task {self.name} turns images into images; {dataset!r} is toy data")
        if tuple(sample_shape[1:]) != (SIZE, SIZE) or sample_shape[0] not in (1, 3):
            raise ConfigError(f"--task {self.name} works on {SIZE}x{SIZE} images with 1 or 3 channels; {dataset!r} "
                              f"has {'x'.join(map(str, sample_shape))} (drop --image-size)")

    def make(self, target: Tensor, u: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(input, target) for a batch of targets; `u` [N, uniforms] the random parts, None the evaluation pair."""
        raise NotImplementedError

    def condition(self, inp: Tensor) -> Tensor:
        """The input at the target's size, as D sees it beside an output.  # [N, Cin, h, w] -> [N, Cin, 28, 28]"""
        return inp

    def display(self, inp: Tensor, out_channels: int) -> Tensor:
        """The input drawn as an image beside the outputs.  # [N, Cin, h, w] -> [N, out_channels, 28, 28]"""
        x = self.condition(inp)[:, :out_channels]
        return x.expand(-1, out_channels, -1, -1) if x.shape[1] == 1 else x

    def user_input(self, x: Tensor, mask: Tensor | None, target_shape: tuple[int, ...]) -> Tensor:
        """A user's images prepared as the network's input, checked (one-line ConfigError when they do not fit)."""
        if mask is not None:
            raise ConfigError(f"a mask applies to inpainting runs only; this run's task is {self.name}")
        want = self.input_shape(target_shape)
        _check_images(x, want, self.name)
        return x


def _check_images(x: Tensor, want: tuple[int, ...], task: str, *, nan_ok: bool = False) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != tuple(want) or x.shape[0] == 0:
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ConfigError(f"task {task} takes images [N, {', '.join(map(str, want))}] in [-1, 1], got {shape}")
    if not x.is_floating_point():
        raise ConfigError(f"task {task} takes float images in [-1, 1], got dtype {x.dtype}")
    finite = x[~torch.isnan(x)] if nan_ok else x
    if not bool(torch.isfinite(finite).all()):
        raise ConfigError(f"task {task}: the images hold NaN or inf values")
    if finite.numel() and (float(finite.min()) < -1 - 1e-4 or float(finite.max()) > 1 + 1e-4):
        raise ConfigError(f"task {task} takes images in [-1, 1], got values in [{float(finite.min()):.3g}, "
                          f"{float(finite.max()):.3g}]")


def luminance(x: Tensor) -> Tensor:
    """Grey of RGB images (ITU-R 601), grey images as they are.  # [N, C, H, W] -> [N, 1, H, W]"""
    if x.shape[1] == 1:
        return x
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def sobel_edges(x: Tensor, threshold: float = EDGE_THRESHOLD) -> Tensor:
    """Thresholded Sobel edge map of images in [-1, 1], as -1 (none) / 1 (edge).  # [N, C, H, W] -> [N, 1, H, W]"""
    g = (luminance(x) + 1) / 2  # [N, 1, H, W] in [0, 1]
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 4
    kernels = torch.stack([k, k.t()])[:, None]  # [2, 1, 3, 3]: d/dx, d/dy
    grad = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), kernels)  # [N, 2, H, W]
    mag = grad.pow(2).sum(1, keepdim=True).sqrt()
    return torch.where(mag > threshold, 1.0, -1.0).to(x.dtype)


class Edges(Task):
    name = "edges"
    summary = "edge map -> image (pix2pix)"

    def input_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (1, *target_shape[1:])

    def make(self, target: Tensor, u: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return sobel_edges(target), target


class SuperRes(Task):
    """Area (box) downsampling by `factor`; the network upsamples bicubically first, inside its forward."""

    factor: ClassVar[int] = 4

    def input_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = target_shape
        return (c, h // self.factor, w // self.factor)

    def make(self, target: Tensor, u: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return F.avg_pool2d(target, self.factor), target

    def condition(self, inp: Tensor) -> Tensor:
        return bicubic_up(inp, self.factor)


def bicubic_up(x: Tensor, factor: int) -> Tensor:
    """Bicubic upsampling by `factor`, clamped to [-1, 1] (bicubic overshoots at edges).  # [N, C, h, w] ->
    [N, C, h*factor, w*factor]"""
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)


class SuperRes4(SuperRes):
    name = "superres4"
    summary = "7x7 -> 28x28 (SRGAN-style)"
    factor = 4


class SuperRes2(SuperRes):
    name = "superres2"
    summary = "14x14 -> 28x28 (SRGAN-style)"
    factor = 2


def hole_masks(n: int, size: int, u: Tensor | None, device: torch.device | None = None) -> Tensor:
    """Holes as 1, kept pixels as 0. u [n, 5] in [0, 1): u0 < 0.5 the centre square, else a rectangle with sides
    7 + floor(10 u1), 7 + floor(10 u2) at top floor(u3 (size - h + 1)), left floor(u4 (size - w + 1));
    u None: every hole the centre square.  # -> [n, 1, size, size]"""
    device = u.device if u is not None else device
    lo = (size - CENTRE) // 2
    top = torch.full((n,), lo, device=device)
    left, h, w = top.clone(), torch.full((n,), CENTRE, device=device), torch.full((n,), CENTRE, device=device)
    if u is not None:
        rect = u[:, 0] >= 0.5
        rh, rw = 7 + (u[:, 1] * 10).long(), 7 + (u[:, 2] * 10).long()
        rt = (u[:, 3] * (size - rh + 1)).long()
        rl = (u[:, 4] * (size - rw + 1)).long()
        top, left = torch.where(rect, rt, top), torch.where(rect, rl, left)
        h, w = torch.where(rect, rh, h), torch.where(rect, rw, w)
    r = torch.arange(size, device=device)
    rows = (r[None] >= top[:, None]) & (r[None] < (top + h)[:, None])  # [n, size]
    cols = (r[None] >= left[:, None]) & (r[None] < (left + w)[:, None])
    return (rows[:, :, None] & cols[:, None, :]).float()[:, None]


def with_hole(x: Tensor, mask: Tensor) -> Tensor:
    """The inpainting network's input: x with the hole set to 0, then the hole channel.  # [N, C, H, W],
    [N, 1, H, W] -> [N, C + 1, H, W]"""
    m = mask.to(x.dtype)
    return torch.cat([x * (1 - m), m], dim=1)


class Inpaint(Task):
    name = "inpaint"
    summary = "image with a hole -> whole image (context encoder)"
    uniforms = 5

    def input_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = target_shape
        return (c + 1, h, w)

    def make(self, target: Tensor, u: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mask = hole_masks(len(target), target.shape[-1], u, target.device).to(target.dtype)
        return with_hole(target, mask), target

    def user_input(self, x: Tensor, mask: Tensor | None, target_shape: tuple[int, ...]) -> Tensor:
        """x [N, C, 28, 28] with the missing pixels marked by `mask` (1 / True missing; [N, 1, H, W], [N, H, W] or
        one [H, W] for every image) or, without a mask, by NaN in x (any channel). A given mask wins: x may hold
        NaN only inside it."""
        _check_images(x, tuple(target_shape), self.name, nan_ok=True)
        nan = torch.isnan(x).any(1, keepdim=True)  # [N, 1, H, W]
        if mask is None:
            if not bool(nan.any()):
                raise ConfigError("inpaint needs the missing pixels: give a mask (mask=, --mask) or mark them NaN")
            m = nan.to(x.dtype)
        else:
            m = _as_mask(mask, x)
            if bool((nan & (m == 0)).any()):
                raise ConfigError("the images hold NaN outside the mask; the mask, when given, marks every missing "
                                  "pixel")
        return with_hole(torch.nan_to_num(x, nan=0.0), m)


def _as_mask(mask: Tensor, x: Tensor) -> Tensor:
    """A user's mask as [N, 1, H, W] 0/1 floats, checked against images x [N, C, H, W]."""
    if not isinstance(mask, Tensor):
        raise ConfigError(f"mask must be a tensor or array, got {type(mask).__name__}")
    n, _, h, w = x.shape
    m = mask
    if m.dim() == 2:
        m = m[None, None]
    elif m.dim() == 3:
        m = m[:, None]
    if m.dim() != 4 or m.shape[1] != 1 or tuple(m.shape[2:]) != (h, w) or m.shape[0] not in (1, n):
        raise ConfigError(f"mask of shape {list(mask.shape)} does not match images {list(x.shape)}: give "
                          f"[{h}, {w}], [N, {h}, {w}] or [N, 1, {h}, {w}] with N = {n}")
    m = m.expand(n, 1, h, w)
    if m.is_floating_point() and not bool(torch.isfinite(m).all()):
        raise ConfigError("the mask holds NaN or inf values")
    if not bool(((m == 0) | (m == 1)).all()):
        raise ConfigError("mask values must be 0 (kept) or 1 (missing)")
    return m.to(x.dtype)


class Colorize(Task):
    name = "colorize"
    summary = "grey -> colour"

    def input_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (1, *target_shape[1:])

    def check_data(self, dataset: str, sample_shape: tuple[int, ...]) -> None:
        super().check_data(dataset, sample_shape)
        if sample_shape[0] != 3:
            raise ConfigError(f"--task colorize needs colour images: --dataset coloured-mnist (or RGB data); "
                              f"{dataset!r} is grey")

    def make(self, target: Tensor, u: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return luminance(target), target


TASKS: dict[str, Task] = {t.name: t for t in (Edges(), SuperRes4(), SuperRes2(), Inpaint(), Colorize())}


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def get_task(name: str | None) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown paired task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]  # type: ignore[index]


def find_task(name: str | None) -> Task | None:
    """The paired task by name, or None (a task some other method defines, e.g. unpaired translation)."""
    return TASKS.get(name) if name is not None else None
