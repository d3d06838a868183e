"""Audio in torch: WAV files, resampling, the log-mel spectrogram images gankit's audio GANs generate, and
Griffin-Lim to turn those images back into sound.

The spectrogram is SpecGAN's representation (Donahue et al. 2019) at telephone bandwidth: 1 s clips at 8 kHz
(8,000 samples) under a 256-sample (32 ms) Hann window with a hop of 125 samples (about half the window, as
SpecGAN's 50 % overlap), 64 mel bands on Slaney's scale (linear below 1 kHz, so no band is narrower than the FFT's
31 Hz bins), first 64 frames: an image of [1, 64, 64] (mel band upwards, time rightwards). Magnitudes go to dB and
a fixed range maps to [-1, 1], so the mapping is a pure function: no statistics of a data set travel with a run.

Inversion: mel magnitudes -> linear magnitudes by non-negative least squares (projected gradient from the
pseudo-inverse), then the fast Griffin-Lim of Perraudin et al. (2013): phase from alternating projections with a
momentum of 0.99, started from a seeded random phase.

WAV IO uses the standard library's `wave` (16-bit PCM, mono); a file at another sample rate is refused in one
line rather than silently resampled, so a feature network never hears audio at the wrong speed.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

SAMPLE_RATE = 8000
CLIP_SAMPLES = 8000  # 1 s
N_FFT = 256
HOP = 125
N_MELS = 64
FRAMES = 64
DB_MIN, DB_MAX = -80.0, 0.0  # the dB range mapped to [-1, 1] (the peak-normalised clips top out at -4 to -11 dB)
AMIN = 10 ** (DB_MIN / 20)  # magnitudes below the floor of the range


# ---------------------------------------------------------------------------------------------------- WAV files
def read_wav(path: str | Path, rate: int | None = SAMPLE_RATE) -> tuple[Tensor, int]:
    """A mono 16-bit PCM WAV as float32 samples in [-1, 1] and its sample rate.  # -> [T], int

    `rate`: the sample rate the file must have (None: any). Stereo files are averaged to mono."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            sr, width, channels, frames = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
            if width != 2:
                raise DataError(f"{path}: {8 * width}-bit samples; gankit reads 16-bit PCM WAV files")
            if rate is not None and sr != rate:
                raise DataError(f"{path}: sample rate {sr} Hz; gankit's audio is {rate} Hz mono (resample it first, "
                                f"e.g. sox in.wav -r {rate} -c 1 out.wav)")
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as e:
        raise DataError(f"{path}: not a PCM WAV file ({' '.join(str(e).split()) or type(e).__name__})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None
    x = np.frombuffer(raw[:len(raw) - len(raw) % (2 * channels)], dtype="<i2").reshape(-1, channels)
    return torch.from_numpy(x.astype(np.float32).mean(axis=1) / 32768.0), sr


def write_wav(path: str | Path, samples: Tensor, rate: int = SAMPLE_RATE) -> Path:
    """Write samples in [-1, 1] (clipped) as a mono 16-bit PCM WAV.  # samples: [T]"""
    if samples.dim() != 1:
        raise ValueError(f"write_wav takes one mono signal [T], got shape {tuple(samples.shape)}")
    pcm = (samples.detach().float().clamp(-1, 1) * 32767).round().to(torch.int16).cpu().numpy().astype("<i2")
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return path


# ---------------------------------------------------------------------------------------------------- signals
def resample(x: Tensor, orig: int, new: int) -> Tensor:
    """Band-limited resampling along the last axis by truncating (or zero-padding) the spectrum.  # [..., T]

    Exact for periodic signals; the clips here are padded with silence, so wrap-around at the ends is silent."""
    if orig == new:
        return x
    n_in = x.shape[-1]
    n_out = max(1, round(n_in * new / orig))
    spec = torch.fft.rfft(x.double(), dim=-1)
    keep = min(spec.shape[-1], n_out // 2 + 1)
    out_spec = torch.zeros(*spec.shape[:-1], n_out // 2 + 1, dtype=spec.dtype)
    out_spec[..., :keep] = spec[..., :keep]
    return (torch.fft.irfft(out_spec, n=n_out, dim=-1) * (n_out / n_in)).to(x.dtype)


def fit_clip(x: Tensor, length: int = CLIP_SAMPLES, threshold: float = 0.02) -> Tensor:
    """One utterance as a clip of `length` samples: silence trimmed (samples below `threshold` of the peak at
    either end), centred, zero-padded or (for a longer word) cut at both ends, and peak-normalised to 0.95.  # [T]"""
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak == 0.0:
        return torch.zeros(length, dtype=torch.float32)
    loud = torch.nonzero(x.abs() >= threshold * peak).view(-1)
    x = x[int(loud[0]):int(loud[-1]) + 1]
    if len(x) > length:
        start = (len(x) - length) // 2
        x = x[start:start + length]
    out = torch.zeros(length, dtype=torch.float32)
    start = (length - len(x)) // 2
    out[start:start + len(x)] = x.float()
    return out * (0.95 / float(out.abs().max()))


# ---------------------------------------------------------------------------------------------------- spectrograms
def _hz_to_mel(f: Tensor) -> Tensor:
    """Slaney's mel scale: linear (3 bands per 200 Hz) below 1 kHz, logarithmic above."""
    lin = f / (200.0 / 3)
    log = 15.0 + torch.log(f.clamp(min=1e-9) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(f < 1000.0, lin, log)


def _mel_to_hz(m: Tensor) -> Tensor:
    lin = m * (200.0 / 3)
    log = 1000.0 * torch.exp((m - 15.0) * (math.log(6.4) / 27.0))
    return torch.where(m < 15.0, lin, log)


def mel_filterbank(n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS, rate: int = SAMPLE_RATE) -> Tensor:
    """Triangular mel filters, area-normalised (Slaney), over the FFT bins 0 .. rate/2.  # [n_mels, n_freqs]"""
    freqs = torch.linspace(0, rate / 2, n_freqs, dtype=torch.float64)
    edges = _mel_to_hz(torch.linspace(0.0, float(_hz_to_mel(torch.tensor(rate / 2.0))), n_mels + 2,
                                      dtype=torch.float64))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    fb = torch.clamp(torch.minimum(up, down), min=0.0) * (2.0 / (hi - lo))
    return fb.float()


@dataclass(frozen=True)
class SpecSettings:
    """The analysis behind one spectrogram image (the defaults are gankit's spoken-digit images)."""

    rate: int = SAMPLE_RATE
    samples: int = CLIP_SAMPLES
    n_fft: int = N_FFT
    hop: int = HOP
    n_mels: int = N_MELS
    frames: int = FRAMES


SPEC = SpecSettings()
_FB: dict[SpecSettings, tuple[Tensor, Tensor]] = {}


def _filterbank(s: SpecSettings) -> tuple[Tensor, Tensor]:
    """(mel filters [M, F], their pseudo-inverse [F, M]), made once per setting."""
    if s not in _FB:
        fb = mel_filterbank(s.n_fft // 2 + 1, s.n_mels, s.rate)
        _FB[s] = (fb, torch.linalg.pinv(fb.double()).float())
    return _FB[s]


def stft(x: Tensor, s: SpecSettings = SPEC) -> Tensor:
    """Complex STFT of clips, centred frames, the first `s.frames` kept.  # [N, T] -> [N, F, frames]"""
    window = torch.hann_window(s.n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, s.n_fft, hop_length=s.hop, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return spec[..., :s.frames]


def istft(spec: Tensor, s: SpecSettings = SPEC) -> Tensor:
    """Inverse of `stft` (frames past `s.frames` taken as silent).  # [N, F, frames] -> [N, samples]"""
    total = s.samples // s.hop + 1
    if spec.shape[-1] < total:
        spec = torch.cat([spec, spec.new_zeros(*spec.shape[:-1], total - spec.shape[-1])], dim=-1)
    window = torch.hann_window(s.n_fft, dtype=spec.real.dtype, device=spec.device)
    return torch.istft(spec, s.n_fft, hop_length=s.hop, window=window, center=True, length=s.samples)


def waves_to_images(x: Tensor, s: SpecSettings = SPEC) -> Tensor:
    """Clips -> log-mel spectrogram images in [-1, 1], low bands at the bottom.  # [N, T] -> [N, 1, M, frames]"""
    if x.dim() != 2 or x.shape[1] != s.samples:
        raise ValueError(f"waves_to_images takes clips [N, {s.samples}], got shape {tuple(x.shape)}")
    fb, _ = _filterbank(s)
    mel = fb.to(x.device) @ stft(x.float(), s).abs()  # [N, M, frames]
    db = 20 * torch.log10(mel.clamp(min=AMIN))
    img = ((db - DB_MIN) / (DB_MAX - DB_MIN) * 2 - 1).clamp(-1, 1)
    return img.flip(1)[:, None]


def images_to_mel(images: Tensor) -> Tensor:
    """Spectrogram images in [-1, 1] -> mel magnitudes.  # [N, 1, M, frames] -> [N, M, frames]"""
    db = (images[:, 0].float().clamp(-1, 1).flip(1) + 1) / 2 * (DB_MAX - DB_MIN) + DB_MIN
    return 10 ** (db / 20)


def mel_to_linear(mel: Tensor, s: SpecSettings = SPEC, iters: int = 30) -> Tensor:
    """Non-negative linear magnitudes whose mel projection best matches `mel` (least squares, projected gradient
    from the clipped pseudo-inverse).  # [N, M, frames] -> [N, F, frames]"""
    fb, pinv = _filterbank(s)
    fb, pinv = fb.to(mel.device), pinv.to(mel.device)
    lin = (pinv @ mel).clamp(min=0)
    step = 1.0 / float(torch.linalg.matrix_norm(fb, ord=2) ** 2)  # 1 / Lipschitz constant of the gradient
    for _ in range(iters):
        lin = (lin - step * (fb.T @ (fb @ lin - mel))).clamp(min=0)
    return lin


def griffin_lim(mag: Tensor, s: SpecSettings = SPEC, iters: int = 64, momentum: float = 0.99,
                seed: int = 0) -> Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013): a signal whose STFT magnitude approximates `mag`.
    # [N, F, frames] -> [N, samples]"""
    gen = torch.Generator(device=mag.device).manual_seed(seed)
    phase = torch.rand(mag.shape, generator=gen, device=mag.device) * (2 * math.pi)
    spec = mag * torch.exp(1j * phase)
    prev = torch.zeros_like(spec)
    for _ in range(iters):
        rebuilt = stft(istft(spec, s), s)
        accel = rebuilt + momentum * (rebuilt - prev) if momentum else rebuilt
        prev = rebuilt
        spec = mag * torch.exp(1j * torch.angle(accel))
    return istft(spec, s)


def images_to_waves(images: Tensor, s: SpecSettings = SPEC, iters: int = 32, seed: int = 0,
                    batch_size: int = 256) -> Tensor:
    """Spectrogram images -> clips through the mel inversion and Griffin-Lim, peak-normalised to 0.95 like the
    spoken-digit data (near-silent clips are left quiet).
    # [N, 1, M, frames] -> [N, samples] in [-1, 1]"""
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, s.n_mels, s.frames):
        raise ValueError(f"images_to_waves takes spectrogram images [N, 1, {s.n_mels}, {s.frames}], got shape "
                         f"{tuple(images.shape)}")
    out = []
    with torch.no_grad():
        for i, chunk in enumerate(images.split(batch_size)):
            wav = griffin_lim(mel_to_linear(images_to_mel(chunk), s), s, iters=iters, seed=seed + i)
            peak = wav.abs().amax(dim=1, keepdim=True).clamp(min=1e-3)
            out.append(wav * (0.95 / peak))
    return torch.cat(out) if out else images.new_zeros(0, s.samples)
