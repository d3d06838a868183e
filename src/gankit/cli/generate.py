"""The `gankit sample` and `gankit interpolate` verbs: a trained generator's samples and latent walks (and, for
style-based runs, the truncation trick and style-mixing grids)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..checkpoint import CHECKPOINT_DIR
from ..errors import ConfigError, shown
from ..rundir import RunDir
from .jsonout import check_file_target


def add_parsers(sub: Any) -> None:
    _add_sample(sub)
    _add_interpolate(sub)


def _add_sample(sub: Any) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained generator",
                       description="Draw samples from a run's (EMA) generator into a grid PNG and/or one PNG each.")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", help="grid PNG to write (default: RUN/sample.png); for audio runs (spoken-digits) a "
                   "folder for one WAV file per sample and the spectrogram figures (default: RUN/sample_audio/)")
    p.add_argument("--out-dir", help="also write each sample as its own PNG into this folder")
    p.add_argument("--class", dest="klass", type=int, help="class to draw (conditional runs), e.g. 7")
    p.add_argument("--code", type=int, help="value of the categorical latent code to draw (InfoGAN runs), e.g. 3")
    p.add_argument("--seed", type=int, default=None, help="seed for z (default: random)")
    p.add_argument("--nrow", type=int, help="images per grid row (default: square)")
    p.add_argument("--no-ema", action="store_true", help="use the raw G instead of its EMA copy")
    p.add_argument("--npy", help="also save the raw samples as a .npy array")
    p.add_argument("--length", type=int, help="steps per sequence (recurrent runs): must be the run's own")
    p.add_argument("--text", action="append", metavar="CAPTION", help="text-to-image runs: draw --n images of this "
                   "caption, one grid row each, e.g. \"a thin two\" (repeatable)")
    p.add_argument("--truncation", type=float, metavar="PSI", help="style-based runs (--method stylegan): the "
                   "truncation trick, each w pulled toward the tracked mean w, psi in (0, 1] (1: none); e.g. 0.7")
    p.add_argument("--mix", type=int, nargs="?", const=4, metavar="K", help="style-based runs: instead of samples, "
                   "a style-mixing grid of K row latents (coarse styles) by K column latents (fine styles), "
                   "sources on the top row and left column (the flag alone: 4); default --out RUN/style_mixing.png")
    p.add_argument("--mix-cut", type=int, metavar="L", help="with --mix: the first style layer taken from the column "
                   "latent (default: half the style layers)")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from ..api import load

    _at_least("--n", args.n, 1)
    if args.nrow is not None:
        _at_least("--nrow", args.nrow, 1)
    check_file_target("--npy", args.npy)
    if args.out_dir and Path(args.out_dir).exists() and not Path(args.out_dir).is_dir():
        raise ConfigError(f"--out-dir {shown(args.out_dir)}: is a file, not a folder")
    if args.mix is not None or args.mix_cut is not None:
        return _sample_mix(args)  # refuses runs without styles, audio ones included
    if _audio_run(args.run):
        return _sample_audio(args)
    out = _output(args.out, "--out", args.run, lambda run: run.sample_grid)
    G = load(args.run, ema=not args.no_ema)
    if args.length is not None:
        from ..methods.rgan import check_length

        check_length(G, args.length)
    if args.text:
        from ..methods.text2image import sample_text

        if args.klass is not None or args.code is not None or args.truncation is not None:
            raise ConfigError("--text says what to draw; drop --class / --code / --truncation")

        x = sample_text(G, args.text, args.n, seed=args.seed)  # caption after caption, n each
        args.nrow = args.nrow or args.n
        args.n = len(x)
    else:
        x = G.sample(args.n, labels=args.klass, code=args.code, seed=args.seed, truncation=args.truncation)
    from ..viz.samples import save_samples

    save_samples(x, out, nrow=args.nrow)
    print(f"gankit: {args.n} samples from {G.source} -> {out}")
    if args.out_dir:
        if len(G.data_shape) != 3:
            raise ConfigError("--out-dir writes images; this run generates toy points (use --npy)")
        from ..viz import save_grid

        d = Path(args.out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for i in range(len(x)):
            save_grid(x[i:i + 1], d / f"sample_{i:05d}.png", nrow=1, padding=0)
        print(f"gankit: {len(x)} PNG files -> {d}/")
    if args.npy:
        import numpy as np

        np.save(args.npy, x.cpu().numpy())
        print(f"gankit: raw samples -> {args.npy}")
    return 0


def _audio_run(run: str) -> bool:
    """Whether RUN trained on sound (its config's data set; a folder that is not a run is left to `load` to refuse)."""
    from ..data.speech import is_audio
    from ..errors import GankitError

    try:
        return is_audio(str(_run_dir(run).read_config().get("dataset", "")))
    except (GankitError, OSError, ValueError):
        return False


def _sample_audio(args: argparse.Namespace) -> int:
    """An audio run's samples: one 8 kHz WAV per sample (Griffin-Lim from the generated spectrogram) and the
    spectrograms as a grid PNG and as a figure with time and frequency axes, in the --out folder."""
    from .. import audio
    from ..api import load
    from ..viz import save_grid
    from ..viz.spectrograms import plot_spectrograms

    if args.out_dir or args.nrow is not None:
        raise ConfigError("--out-dir and --nrow draw image grids; for an audio run --out names the folder to write")
    if args.text or args.length is not None:
        raise ConfigError("--text and --length are for text-to-image and sequence runs; this run speaks digits")
    if args.out is not None and not args.out.strip():
        raise ConfigError("--out must name a folder, got an empty path")
    d = Path(args.out) if args.out is not None else _run_dir(args.run).root / "sample_audio"
    if d.exists() and not d.is_dir():
        raise ConfigError(f"--out {shown(str(d))}: is a file; an audio run writes a folder of WAV files")
    G = load(args.run, ema=not args.no_ema)
    labels = G.labels(args.n, args.klass)  # None for an unconditional run; conditional: 0, 1, 2, ... or --class
    x = G.sample(args.n, labels=labels, code=args.code, seed=args.seed,
                 truncation=args.truncation).cpu()  # [N, 1, 64, 64]
    waves = audio.images_to_waves(x, seed=args.seed or 0)  # [N, 8000]
    d.mkdir(parents=True, exist_ok=True)
    names = [f"sample_{i:05d}" + (f"_{int(labels[i])}" if labels is not None else "") for i in range(args.n)]
    for name, wave in zip(names, waves):
        audio.write_wav(d / f"{name}.wav", wave)
    save_grid(x, d / "spectrograms.png", nrow=min(10, args.n), padding=2)
    shown_n = min(args.n, 10)
    titles = [G.class_names[int(labels[i])] if labels is not None and G.class_names else names[i][7:]
              for i in range(shown_n)]
    plot_spectrograms(x[:shown_n], d / "spectrograms_figure.png", titles=titles)
    print(f"gankit: {args.n} WAV files (8 kHz, 1 s) from {G.source} -> {d}/ (+ spectrograms.png, "
          "spectrograms_figure.png)")
    if args.npy:
        import numpy as np

        np.save(args.npy, x.numpy())
        print(f"gankit: raw spectrograms -> {args.npy}")
    return 0


def _sample_mix(args: argparse.Namespace) -> int:
    """`sample --mix K`: the style-mixing grid of a style-based run."""
    from ..api import load
    from ..viz import save_grid

    if args.mix is None:
        raise ConfigError("--mix-cut sets the crossover layer of --mix; add --mix")
    _at_least("--mix", args.mix, 1)
    other = [f for f, v in (("--out-dir", args.out_dir), ("--npy", args.npy), ("--class", args.klass),
                            ("--code", args.code), ("--nrow", args.nrow)) if v is not None]
    if other:
        raise ConfigError(f"--mix draws one grid; {', '.join(other)} do not apply to it")
    out = _output(args.out, "--out", args.run, lambda run: run.root / "style_mixing.png")
    G = load(args.run, ema=not args.no_ema)
    x = G.mix(args.mix, args.mix, cut=args.mix_cut, seed=args.seed, truncation=args.truncation)
    save_grid(x, out, nrow=args.mix + 1, scale=2 if G.data_shape[-1] <= 32 else 1)
    cut = args.mix_cut if args.mix_cut is not None else int(G.net.num_ws) // 2
    print(f"gankit: style mixing, {args.mix} x {args.mix} (coarse styles from each row's latent, layers {cut}.."
          f"{int(G.net.num_ws) - 1} from each column's) from {G.source} -> {out}")
    return 0


def _at_least(flag: str, value: int, least: int) -> None:
    if value < least:
        raise ConfigError(f"{flag} must be >= {least}, got {value}")


def _output(given: str | None, flag: str, run: str, default: Callable[[RunDir], Path]) -> Path:
    """The grid to write: `given`, else its default in the run folder (whose layout is checked first: no file of
    it may be a link). Either is written atomically, so a link at that name is replaced, not written through."""
    if given is not None:
        if not given.strip():
            raise ConfigError(f"{flag} must name a file, got an empty path")
        check_file_target(flag, given)
        return Path(given)
    folder = _run_dir(run)
    folder.check_layout()
    path = default(folder)
    check_file_target(f"the default {flag}", str(path))
    return path


def _run_dir(run: str) -> RunDir:
    """The run folder of RUN (a run folder or one of its checkpoints); a file elsewhere (an exported generator):
    the folder that holds it."""
    p = Path(run)
    if p.is_dir():
        return RunDir(p)
    return RunDir(p.parent.parent if p.parent.name == CHECKPOINT_DIR else p.parent)


def _add_interpolate(sub: Any) -> None:
    p = sub.add_parser("interpolate", help="walk through latent space between samples",
                       description="Interpolate between random latent vectors and draw the images along the way.")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--steps", type=int, default=10, help="images per walk (default: 10)")
    p.add_argument("--rows", type=int, default=1, help="number of walks, one per grid row (default: 1)")
    p.add_argument("--out", help="grid PNG to write (default: RUN/interpolation.png)")
    p.add_argument("--gif", help="also write the walk as an animated GIF")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--class", dest="klass", type=int, help="class to hold fixed (conditional runs)")
    p.add_argument("--code", type=int, help="categorical latent code to hold fixed (InfoGAN runs)")
    p.add_argument("--seed", type=int, default=None, help="seed for the end points (default: random)")
    p.add_argument("--no-ema", action="store_true", help="use the raw G instead of its EMA copy")
    p.add_argument("--truncation", type=float, metavar="PSI", help="style-based runs: the truncation trick, psi in "
                   "(0, 1]")
    p.set_defaults(func=cmd_interpolate)


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ..api import load
    from ..viz import save_gif, save_grid

    _at_least("--steps", args.steps, 2)
    _at_least("--rows", args.rows, 1)
    check_file_target("--gif", args.gif)
    out = _output(args.out, "--out", args.run, lambda run: run.interpolation)
    G = load(args.run, ema=not args.no_ema)
    if len(G.data_shape) != 3:
        raise ConfigError("interpolate draws images; this run generates toy points")
    x = G.interpolate(args.steps, slerp=args.slerp, seed=args.seed, labels=args.klass, rows=args.rows,
                      code=args.code, truncation=args.truncation)
    scale = 2 if G.data_shape[-1] <= 32 else 1
    save_grid(x, out, nrow=args.steps, scale=scale)
    print(f"gankit: {args.rows} walk(s) of {args.steps} steps ({'slerp' if args.slerp else 'linear'}) -> {out}")
    if args.gif:
        from ..viz import make_grid

        walks = x.view(args.rows, args.steps, *x.shape[1:])  # [R, T, C, H, W]
        frames = [make_grid(walks[:, t], nrow=args.rows, scale=scale) for t in range(args.steps)]
        frames = frames + frames[-2:0:-1]  # there and back again, so the loop is seamless
        save_gif(frames, args.gif, duration_ms=120)
        print(f"gankit: animation -> {args.gif}")
    return 0
