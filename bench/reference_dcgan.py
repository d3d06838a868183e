"""The field's reference DCGAN loop (pytorch/examples `dcgan/main.py`), re-stated for a like-for-like timing.

The reference cannot run beside gankit's torch here: it needs torchvision, whose PyPI build does not load with
torch 2.13.0+cpu. This module is its training loop step for step, with the three torchvision pieces it uses
replaced by equivalents:

- data: a per-sample `torch.utils.data.Dataset` that turns one uint8 MNIST digit into a PIL image and applies
  per-image transforms (Resize(image_size), ToTensor, Normalize(0.5, 0.5)), read through a `DataLoader` with
  `shuffle=True` and `num_workers=2` (main.py's default `--workers 2`), exactly as `dset.MNIST` + `transforms`;
- `vutils.save_image` every 100 iterations (the real batch, and G(fixed_noise) run in training mode as main.py
  does): gankit's own grid writer;
- the networks: gankit's DCGAN modules, so both loops train the same architecture (at 64x64 with width 64 they
  are main.py's `Generator`/`Discriminator` layer for layer, except that D's last convolution has a bias), with
  D's logits passed through `Sigmoid` into `nn.BCELoss` as main.py does.

The step itself is main.py's: D on a real batch, backward; G(z) once, D on `fake.detach()`, backward, D step;
then D on the same `fake` for G's loss (D's weight gradients are computed too, main.py does not freeze D), G step;
a loss line printed every iteration (to /dev/null here, the `.item()` calls kept), Adam with PyTorch's default
(per-parameter, not foreach) implementation on CPU, and a checkpoint (`torch.save` of both state dicts) at each
epoch's end.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from gankit.models import build_models
from gankit.viz import save_grid


class PerSampleDigits(torch.utils.data.Dataset):
    """`dset.MNIST` with `Compose([Resize(size), ToTensor(), Normalize((0.5,), (0.5,))])`: one PIL image per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: int) -> None:
        self.images, self.labels, self.size = images, labels, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i], mode="L")
        img = img.resize((self.size, self.size), Image.BILINEAR)  # transforms.Resize (a no-op size at 28)
        t = torch.from_numpy(np.array(img, dtype=np.uint8)).view(self.size, self.size, 1)  # transforms.ToTensor
        t = t.permute(2, 0, 1).contiguous().to(torch.float32).div(255)
        return (t - 0.5) / 0.5, int(self.labels[i])  # transforms.Normalize((0.5,), (0.5,))


class _Probability(nn.Module):
    """main.py's D ends in nn.Sigmoid and returns [N] probabilities for nn.BCELoss."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x)).view(-1)


def train_reference(images: np.ndarray, labels: np.ndarray, *, steps: int, warmup: int, batch_size: int = 64,
                    image_size: int = 28, width: int = 64, z_dim: int = 100, workers: int = 2, seed: int = 0,
                    outf: str | None = None, snapshot_every: int = 0,
                    snapshot: Callable[[int, float, nn.Module], None] | None = None) -> dict[str, Any]:
    """Run main.py's loop for `steps` iterations; images/s is measured from iteration `warmup` to the end.

    With `snapshot`, every `snapshot_every` iterations it is called as snapshot(iteration, seconds, netG), seconds
    being the loop's own clock since its first iteration began; the time the call takes is kept off every clock
    (a learning curve can then be drawn without slowing the loop it measures).

    Returns {"images_per_s", "seconds", "steps_timed", "total_s"}; total_s also counts the set-up (data set,
    networks, DataLoader workers)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    dataset = PerSampleDigits(images, labels, image_size)
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    G, D = build_models("dcgan", data_shape=(1, image_size, image_size), z_dim=z_dim, num_classes=0,
                        cond_d="concat", width=width, d_width=width)
    netG, netD = G, _Probability(D)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(batch_size, z_dim)
    real_label, fake_label = 1.0, 0.0
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    tmp = None
    if outf is None:
        tmp = tempfile.TemporaryDirectory(prefix="gankit-ref-")
        outf = tmp.name
    sink = open(os.devnull, "w")
    it, t_warm, paused, paused_before_warm = 0, None, 0.0, 0.0
    try:
        epoch = 0
        t_loop = time.perf_counter()
        while it < steps:
            for i, data in enumerate(dataloader, 0):
                if it == warmup:
                    t_warm, paused_before_warm = time.perf_counter(), paused
                # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
                netD.zero_grad()
                real_cpu = data[0]
                b = real_cpu.size(0)
                label = torch.full((b,), real_label, dtype=real_cpu.dtype)
                output = netD(real_cpu)
                errD_real = criterion(output, label)
                errD_real.backward()
                D_x = output.mean().item()
                noise = torch.randn(b, z_dim)
                fake = netG(noise)
                label.fill_(fake_label)
                output = netD(fake.detach())
                errD_fake = criterion(output, label)
                errD_fake.backward()
                D_G_z1 = output.mean().item()
                errD = errD_real + errD_fake
                optimizerD.step()
                # (2) Update G network: maximize log(D(G(z)))
                netG.zero_grad()
                label.fill_(real_label)
                output = netD(fake)
                errG = criterion(output, label)
                errG.backward()
                D_G_z2 = output.mean().item()
                optimizerG.step()
                print(f"[{epoch}][{i}/{len(dataloader)}] Loss_D: {errD.item():.4f} Loss_G: {errG.item():.4f} "
                      f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}", file=sink)
                if i % 100 == 0:
                    save_grid(real_cpu, Path(outf) / "real_samples.png")
                    fake = netG(fixed_noise)
                    save_grid(fake.detach(), Path(outf) / f"fake_samples_epoch_{epoch:03d}.png")
                it += 1
                if snapshot is not None and snapshot_every and it % snapshot_every == 0:
                    t_pause = time.perf_counter()
                    snapshot(it, t_pause - t_loop - paused, netG)
                    paused += time.perf_counter() - t_pause
                if it >= steps:
                    break
            else:  # the epoch ran to its end: main.py checkpoints both networks
                torch.save(netG.state_dict(), Path(outf) / f"netG_epoch_{epoch}.pth")
                torch.save(netD.state_dict(), Path(outf) / f"netD_epoch_{epoch}.pth")
                epoch += 1
        t_end = time.perf_counter()
    finally:
        sink.close()
        if tmp is not None:
            tmp.cleanup()
    if t_warm is None:
        raise ValueError(f"warmup ({warmup}) must be smaller than steps ({steps})")
    timed = steps - warmup
    seconds = t_end - t_warm - (paused - paused_before_warm)
    return {"images_per_s": timed * batch_size / seconds, "seconds": seconds, "steps_timed": timed,
            "total_s": t_end - t0 - paused}
