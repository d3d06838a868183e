"""Spoken digits: "zero" .. "nine" rendered offline by Debian's `espeak-ng`, as 1 s clips at 8 kHz.

Every clip is one word spoken by a seeded draw of an English accent (en, en-us, en-gb-x-rp, ...), a voice variant
(m1 .. m8, f1 .. f5), a speed (120 .. 200 words per minute) and a pitch (20 .. 80 on espeak-ng's 0 .. 99 scale),
resampled from espeak-ng's 22,050 Hz to 8 kHz (band-limited, `gankit.audio.resample`), trimmed of silence,
centred in 8,000 samples and peak-normalised. The two splits use disjoint voice variants and their own seed
streams, so a network trained on one has never heard the other's voices:

- `train`: variants m1-m5 and f1-f3, 300 clips per digit: what the GANs train on;
- `test`: variants m6-m8 and f4-f5, 150 clips per digit: held-out renderings, on which the shipped spoken-digit
  classifier (gankit.evaluation.speech) was trained.

A split is made once and cached as `spoken_digits/<split>.npz` (int16 samples, labels and each clip's voice,
speed and pitch) in the data folder (`--data-dir`, else `$GANKIT_DATA`) or, when none holds it, made into the
cache (`$GANKIT_CACHE`, default ~/.cache/gankit). `python -m gankit.data.speech --out DIR` makes both splits into
DIR/spoken_digits/ (then pass `--data-dir DIR`). `load_spoken_digits` returns SpecGAN's log-mel spectrogram
images [N, 1, 64, 64] (gankit.audio), the form the GANs and the classifier read; `load_spoken_digit_waves` the clips.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import audio
from ..atomic import atomic_output
from ..errors import ConfigError, DataError, GankitError
from .base import Dataset, subset_indices
from .mnist import cache_dir

NAME = "spoken-digits"
FOLDER = "spoken_digits"
DIGITS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS: tuple[str, ...] = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan",
                            "en-us-nyc", "en-gb-x-gbcwmd")
ESPEAK_RATE = 22050  # espeak-ng's output rate
FORMAT = 1  # of the cached .npz; a file of another format is refused


@dataclass(frozen=True)
class SplitRecipe:
    """How one split is rendered."""

    variants: tuple[str, ...]
    per_digit: int
    seed: int
    speed: tuple[int, int] = (120, 200)
    pitch: tuple[int, int] = (20, 80)


RECIPES: dict[str, SplitRecipe] = {
    "train": SplitRecipe(("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3"), per_digit=300, seed=0),
    "test": SplitRecipe(("m6", "m7", "m8", "f4", "f5"), per_digit=150, seed=1_000_003),
}


# ---------------------------------------------------------------------------------------------------- rendering
def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def espeak_version() -> str:
    exe = espeak_path()
    if exe is None:
        return ""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    return " ".join(out.split()[:4])


def render_word(word: str, voice: str, speed: int, pitch: int, tmp: Path) -> torch.Tensor:
    """One word from espeak-ng as a clip (gankit.audio.fit_clip) at 8 kHz.  # -> [8000]"""
    exe = espeak_path()
    if exe is None:
        raise DataError("making spoken-digits needs espeak-ng (Debian/Ubuntu: apt-get install espeak-ng)")
    wav = tmp / "word.wav"
    done = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not wav.is_file():
        msg = " ".join((done.stderr or done.stdout).split())[:200]
        raise DataError(f"espeak-ng failed on {word!r} with voice {voice!r} (exit {done.returncode}): {msg}")
    x, rate = audio.read_wav(wav, rate=None)
    return audio.fit_clip(audio.resample(x, rate, audio.SAMPLE_RATE))


def draw_voices(recipe: SplitRecipe) -> list[tuple[int, str, int, int]]:
    """The clips of a split: (digit, voice, speed, pitch) per clip, digits cycling 0..9, drawn from `recipe.seed`."""
    g = torch.Generator().manual_seed(recipe.seed)
    n = recipe.per_digit * len(DIGITS)
    accent = torch.randint(0, len(ACCENTS), (n,), generator=g)
    variant = torch.randint(0, len(recipe.variants), (n,), generator=g)
    speed = torch.randint(recipe.speed[0], recipe.speed[1] + 1, (n,), generator=g)
    pitch = torch.randint(recipe.pitch[0], recipe.pitch[1] + 1, (n,), generator=g)
    return [(i % len(DIGITS), f"{ACCENTS[int(accent[i])]}+{recipe.variants[int(variant[i])]}", int(speed[i]),
             int(pitch[i])) for i in range(n)]


def make_split(split: str, folder: str | os.PathLike, *, per_digit: int | None = None,
               log: bool = False) -> Path:
    """Render split `split` into `folder`/spoken_digits/<split>.npz (atomically) and return the file's path."""
    recipe = _recipe(split, per_digit)
    clips = draw_voices(recipe)
    waves = np.zeros((len(clips), audio.CLIP_SAMPLES), dtype=np.int16)
    with tempfile.TemporaryDirectory(prefix="gankit-espeak-") as tmp:
        for i, (digit, voice, speed, pitch) in enumerate(clips):
            x = render_word(DIGITS[digit], voice, speed, pitch, Path(tmp))
            waves[i] = (x.clamp(-1, 1) * 32767).round().to(torch.int16).numpy()
            if log and (i + 1) % 500 == 0:
                print(f"gankit: {split}: {i + 1}/{len(clips)} clips", file=sys.stderr)
    meta = {"format": FORMAT, "split": split, "recipe": asdict(recipe), "accents": list(ACCENTS),
            "rate": audio.SAMPLE_RATE, "espeak_ng": espeak_version()}
    path = Path(folder) / FOLDER / f"{split}.npz"
    with atomic_output(path) as tmp_path:
        with open(tmp_path, "wb") as fh:
            np.savez_compressed(fh, waves=waves, labels=np.array([c[0] for c in clips], dtype=np.uint8),
                                voices=np.array([c[1] for c in clips]), speeds=np.array([c[2] for c in clips]),
                                pitches=np.array([c[3] for c in clips]), meta=np.array(json.dumps(meta)))
    return path


def _recipe(split: str, per_digit: int | None) -> SplitRecipe:
    if split not in RECIPES:
        raise ConfigError(f"spoken-digits has the splits {', '.join(RECIPES)}, not {split!r}")
    recipe = RECIPES[split]
    if per_digit is not None:
        if isinstance(per_digit, bool) or not isinstance(per_digit, int) or per_digit < 1:
            raise ConfigError(f"per_digit must be a positive integer, got {per_digit!r}")
        recipe = SplitRecipe(recipe.variants, per_digit, recipe.seed, recipe.speed, recipe.pitch)
    return recipe


# ---------------------------------------------------------------------------------------------------- cache
def find_split(split: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The cached file of `split`: in `data_dir` (else $GANKIT_DATA), then the cache; None if nowhere."""
    roots = []
    explicit = data_dir if data_dir is not None else (os.environ.get("GANKIT_DATA") or None)
    if explicit is not None:
        roots.append(Path(explicit).expanduser())
    roots.append(cache_dir())
    for root in roots:
        path = root / FOLDER / f"{split}.npz"
        if path.is_file():
            return path
    return None


def read_split(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """int16 clips [N, 8000], labels [N] and the metadata of a cached split, checked."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            waves, labels, meta = npz["waves"], npz["labels"], json.loads(str(npz["meta"]))
    except (OSError, KeyError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a spoken-digits file ({' '.join(str(e).split())}); delete it to remake it") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: spoken-digits file of another format; delete it to remake it")
    if waves.dtype != np.int16 or waves.ndim != 2 or waves.shape[1] != audio.CLIP_SAMPLES or len(waves) == 0:
        raise DataError(f"{path}: expected int16 clips [N, {audio.CLIP_SAMPLES}], found {waves.dtype} "
                        f"{list(waves.shape)}")
    if labels.shape != (len(waves),) or labels.size and int(labels.max()) >= len(DIGITS):
        raise DataError(f"{path}: labels must be one digit 0..9 per clip")
    return waves, labels, meta


def split_file(split: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The cached file of `split`, made into the cache first if it is nowhere and espeak-ng is installed."""
    _recipe(split, None)
    path = find_split(split, data_dir)
    if path is not None:
        return path
    if espeak_path() is None:
        explicit = data_dir if data_dir is not None else os.environ.get("GANKIT_DATA")
        where = ", ".join(str(Path(r).expanduser() / FOLDER) for r in ([explicit] if explicit else []) + [cache_dir()])
        raise DataError(f"spoken-digits {split} split not found (looked in {where}) and espeak-ng, which makes it, is "
                        "not installed (apt-get install espeak-ng, or make it elsewhere with "
                        "`python -m gankit.data.speech --out DIR` and pass --data-dir DIR)")
    print(f"gankit: rendering the spoken-digits {split} split with espeak-ng into {cache_dir() / FOLDER} "
          "(once; a minute or two)", file=sys.stderr)
    return make_split(split, cache_dir(), log=True)


# ---------------------------------------------------------------------------------------------------- loaders
def load_spoken_digit_waves(split: str = "train", *, data_dir: str | os.PathLike | None = None,
                            n: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips in [-1, 1] and digit labels of a split (a seeded subset of n).  # -> [N, 8000] float32, [N] int64"""
    waves, labels, _ = read_split(split_file(split, data_dir))
    idx = subset_indices(len(waves), n, seed)
    if idx is not None:
        waves, labels = waves[idx], labels[idx]
    return torch.from_numpy(waves.astype(np.float32) / 32767.0), torch.from_numpy(labels.astype(np.int64))


def load_spoken_digits(*, split: str = "train", data_dir: str | os.PathLike | None = None,
                       image_size: int | None = None, channels: int | None = None, n: int | None = None,
                       seed: int = 0) -> Dataset:
    """The spoken digits as log-mel spectrogram images [N, 1, 64, 64] in [-1, 1] with their digits."""
    if image_size not in (None, audio.N_MELS) or channels not in (None, 1):
        raise ConfigError(f"spoken-digits are spectrogram images of 1 x {audio.N_MELS} x {audio.FRAMES}; "
                          "--image-size and --channels do not apply (leave them unset)")
    waves, labels = load_spoken_digit_waves(split, data_dir=data_dir, n=n, seed=seed)
    x = torch.cat([audio.waves_to_images(w) for w in waves.split(1000)])  # [N, 1, 64, 64]
    return Dataset(NAME, x, labels, len(DIGITS), list(DIGITS))


def is_audio(dataset: str) -> bool:
    """Whether a run on `dataset` generates spectrograms that stand for sound."""
    return dataset.strip().lower() in (NAME, FOLDER)


# ---------------------------------------------------------------------------------------------------- command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gankit.data.speech",
                                description="Render the spoken-digits data set with espeak-ng into DIR/spoken_digits/ "
                                "(then train with --dataset spoken-digits --data-dir DIR).")
    p.add_argument("--out", required=True, help="the data folder to write spoken_digits/ into")
    p.add_argument("--split", choices=tuple(RECIPES), nargs="+", default=list(RECIPES),
                   help="which splits to make (default: both)")
    p.add_argument("--per-digit", type=int, help="clips per digit (default: 300 for train, 150 for test)")
    p.add_argument("--force", action="store_true", help="remake a split that is already there")
    args = p.parse_args(argv)
    try:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {args.out}: is a file, not a folder")
        for split in args.split:
            target = out / FOLDER / f"{split}.npz"
            if target.exists() and not args.force:
                print(f"gankit: {target} is there already (--force remakes it)")
                continue
            path = make_split(split, out, per_digit=args.per_digit, log=True)
            print(f"gankit: spoken-digits {split} -> {path}")
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
