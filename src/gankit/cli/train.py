"""The `gankit train` verb: flags -> a TrainConfig (over a --config file and the recipes) -> gankit.train;
`--resume RUN` continues a run and accepts its own flags retyped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import COND_D, PRIORS, RECIPE_FIELDS, RNN_CELLS, TASK_METHODS, TrainConfig, read_json_file
from ..errors import ConfigError
from ..recipes import DEFAULT_MODELS, default_model, recipe
from ..rundir import RunDir

DEFAULTS = TrainConfig()


def _d(name: str) -> str:
    if name == "model":
        return f"(default: {', '.join(f'{m} on {where}' for m, where in DEFAULT_MODELS)})"
    if name not in RECIPE_FIELDS:
        return f"(default: {getattr(DEFAULTS, name)})"
    dense, image = recipe("mnist5k", "dcgan-dense", "nonsaturating"), recipe("coloured-mnist", "dcgan", "nonsaturating")
    toy, wgan = recipe("ring8", "mlp", "nonsaturating"), recipe("mnist5k", "dcgan", "wgan-gp")
    text = (f"(default: {dense.get(name)} for dcgan-dense, {image.get(name)} for other images, "
            f"{toy.get(name)} for toy data")
    cond = recipe("mnist5k", "dcgan", "nonsaturating", conditional=True)
    if cond.get(name) != image.get(name):
        text += f", {cond.get(name)} for conditional images"
    if wgan.get(name) != image.get(name):
        text += f", {wgan.get(name)} with wgan-gp"
    return text + ")"


def _float_triple(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers a,b,c, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers a,b,c, got {text!r}")
    return parts  # type: ignore[return-value]


def _key_value(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return key.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KEY=NUMBER, got {text!r}") from None


def add_parsers(sub: Any) -> None:
    from .. import recipes
    from ..losses import LOSS_NAMES
    from ..methods import method_names
    from ..models import MODEL_NAMES

    p = sub.add_parser("train", help="train a GAN and write a run directory",
                       description="Train a GAN (Algorithm 1 of Goodfellow et al. 2014 with Adam). Writes "
                       "config.json, metrics.jsonl, checkpoints/, samples/, progress.gif and losses.png to --out.",
                       epilog=f"Default recipes (knobs left unset; gankit/recipes.py): {recipes.describe()}",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="mnist5k (built in, offline), mnist, fashion-mnist, stacked-mnist, "
                   "coloured-mnist, coloured-fashion (28, 32 or 64 with --image-size), gaussian1d, ring8, grid25, swissroll, "
                   "sines, ar (1-D series, --method rgan), folder:PATH, or npy:PATH (a .npy of "
                   f"images, or a .npz with images and optional labels) {_d('dataset')}")
    g.add_argument("--data-dir", help="folder holding the MNIST/Fashion-MNIST IDX .gz files "
                   "(default: $GANKIT_DATA, else the download cache)")
    g.add_argument("--image-size", type=int, help="resize images to this size (28, 32 or 64 for the conv models)")
    g.add_argument("--channels", type=int, choices=(1, 3), help="1 (grey) or 3 (RGB)")
    g.add_argument("--toy-option", action="append", type=_key_value, dest="toy_options", metavar="KEY=VALUE",
                   help="toy data parameter, e.g. mu=4 sigma=0.5 for gaussian1d (repeatable)")
    g = p.add_argument_group("method and model")
    g.add_argument("--method", choices=method_names(), help=f"GAN method: what a training step computes "
                   f"{_d('method')}")
    g.add_argument("--labels-per-class", type=int, metavar="N", help="semi-supervised methods (sgan): keep the "
                   "labels of N examples per class, drawn with --seed; the rest train unlabelled (default: 0)")
    g.add_argument("--model", choices=MODEL_NAMES, help=f"architecture {_d('model')}")
    g.add_argument("--generator", metavar="PKG.MODULE:FUNCTION", help="your own generator: a factory called with "
                   "data_shape=, z_dim=, num_classes= that returns an nn.Module (imported because you name it here)")
    g.add_argument("--discriminator", metavar="PKG.MODULE:FUNCTION", help="your own discriminator: a factory "
                   "called with data_shape=, num_classes=")
    g.add_argument("--trust-code", action="store_true", help="with --resume: import the generator/discriminator "
                   "factories the run's config names (loading a run never imports code otherwise)")
    g.add_argument("--width", type=int, help="G's base channel/hidden width, and D's unless --d-width is given "
                   "(default: 32 for dcgan-dense, 64 for dcgan on images, 256 for the MLP on toy data, else the "
                   "model's own)")
    g.add_argument("--d-width", type=int, help="D's base channel/hidden width (default: 32 for dcgan on images, "
                   "else --width)")
    g.add_argument("--depth", type=int, help="hidden layers of the MLP's G and D (default: 3 on grid25, 2 on the other "
                   "toys, 3 on images)")
    g.add_argument("--z-dim", type=int, help=f"latent size {_d('z_dim')}")
    g.add_argument("--prior", choices=PRIORS, help=f"distribution of z {_d('prior')}")
    g.add_argument("--conditional", action="store_true", help="class-conditional G and D (labelled data)")
    g.add_argument("--cond-d", choices=COND_D, help=f"how a conditional D sees the label {_d('cond_d')}")
    g.add_argument("--rnn-cell", choices=RNN_CELLS, help=f"recurrent cell of --method rgan's G and D "
                   f"{_d('rnn_cell')}")
    g.add_argument("--spectral-norm", action="store_true", help="spectral norm on every weight of D, whose "
                   "BatchNorm layers are then removed (SNGAN, Miyato et al. 2018); --model sagan has it in G and D")
    g = p.add_argument_group("objective")
    g.add_argument("--loss", choices=LOSS_NAMES, help=f"GAN objective {_d('loss')}")
    g.add_argument("--lsgan-abc", type=_float_triple, metavar="A,B,C",
                   help="LSGAN codes: fake a, real b, G's target c; presets -1,1,0 and 0,1,1 (default: 0,1,1)")
    g.add_argument("--gp-weight", type=float, help=f"WGAN-GP penalty weight {_d('gp_weight')}")
    g.add_argument("--r1", type=float, help=f"gamma of the R1 penalty on D's gradient at real data, 0: off {_d('r1')}")
    g = p.add_argument_group("InfoGAN and AC-GAN", "--method infogan (Chen et al. 2016), --method acgan "
                             "(Odena et al. 2017, with --conditional)")
    g.add_argument("--info-cat", type=int, help=f"categories of InfoGAN's categorical code, 0: none {_d('info_cat')}")
    g.add_argument("--info-cont", type=int, help=f"InfoGAN's continuous codes, U(-1, 1) {_d('info_cont')}")
    g.add_argument("--info-weight", type=float, help=f"lambda of the categorical information term "
                   f"{_d('info_weight')}")
    g.add_argument("--info-cont-weight", type=float, help=f"lambda of the continuous information term "
                   f"{_d('info_cont_weight')}")
    g.add_argument("--aux-on-fake", action="store_true", help="AC-GAN's D also learns the class of G's samples, "
                   "as in the paper (default: real images only)")
    g.add_argument("--aux-weight", type=float, help=f"weight of AC-GAN's class loss {_d('aux_weight')}")
    g = p.add_argument_group("image-to-image", "--task trains a network that turns one image into another: "
                             "pix2pix for the paired tasks, cyclegan for unpaired translation")
    g.add_argument("--task", choices=tuple(TASK_METHODS), help="the input -> output pair, made from --dataset on the "
                   "fly: edges (edge map -> image), superres4 / superres2 (7x7 / 14x14 -> 28x28), inpaint (masked "
                   "-> whole), colorize (grey -> colour), cyclegan (unpaired: images <-> --domain-b); implies its "
                   "--method")
    g.add_argument("--adv-weight", type=float, help=f"weight of the adversarial term, 0: the L1 network alone "
                   f"{_d('adv_weight')}")
    g.add_argument("--recon-weight", type=float, help=f"weight of the paired L1 term {_d('recon_weight')}")
    g.add_argument("--cycle-weight", type=float, help=f"weight of CycleGAN's cycle-consistency term "
                   f"{_d('cycle_weight')}")
    g.add_argument("--domain-b", help=f"CycleGAN's second domain: thick (dilated strokes) or invert "
                   f"{_d('domain_b')}")
    g = p.add_argument_group("mode collapse", "remedies of --method gan, each off by default; `gankit explain "
                             "mode-collapse` compares them on ring8 and grid25")
    g.add_argument("--pack", type=int, metavar="M", help="PacGAN (Lin et al. 2018): D judges M samples at once, "
                   "concatenated along channels; each pack is all real or all fake; the batch must divide by M "
                   f"{_d('pack')}")
    g.add_argument("--unrolled", type=int, metavar="K", help="unrolled GAN (Metz et al. 2017): G's gradient flows "
                   f"through K look-ahead updates of D, whose own weights they leave unchanged {_d('unrolled')}")
    g.add_argument("--minibatch-disc", type=int, nargs="?", const=100, metavar="B", help="minibatch "
                   "discrimination (Salimans et al. 2016) in the mlp or dcgan D: B kernels of dimension 5 "
                   "(the flag alone: 100) {}".format(_d('minibatch_disc')))
    g = p.add_argument_group("growing and styles", "--method progressive (Karras et al. 2018) and --method "
                             "stylegan (Karras et al. 2019, 2020); docs/growing.md")
    g.add_argument("--resolution", type=int, metavar="S", help="final image size, a power of two (8, 16, 32, 64, "
                   "...); the data are resized to it (default: the data's size)")
    g.add_argument("--phase-steps", type=int, metavar="N", help="progressive: steps of each fade-in and each "
                   "stabilising stretch (default: --steps shared evenly over them)")
    g.add_argument("--mapping-layers", type=int, help=f"stylegan: dense layers of the mapping network z -> w "
                   f"{_d('mapping_layers')}")
    g.add_argument("--style-mixing", type=float, metavar="P", help="stylegan: share of training samples whose "
                   f"styles switch to a second latent's at a random layer {_d('style_mixing')}")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, help=f"generator updates {_d('steps')}")
    g.add_argument("--batch-size", type=int, help="the global batch: under torchrun with N ranks each rank "
                   f"computes on batch-size / N of it, so N ranks train like one process {_d('batch_size')}")
    g.add_argument("--d-steps", type=int, help=f"discriminator updates per generator update (k) {_d('d_steps')}")
    g.add_argument("--lr", type=float, help="learning rate of both G and D")
    g.add_argument("--lr-g", type=float, help=f"generator learning rate {_d('lr_g')}")
    g.add_argument("--lr-d", type=float, help=f"discriminator learning rate {_d('lr_d')}")
    g.add_argument("--beta1", type=float, help=f"Adam beta1 {_d('beta1')}")
    g.add_argument("--beta2", type=float, help=f"Adam beta2 {_d('beta2')}")
    g.add_argument("--lr-decay", action="store_true", help="decay learning rates linearly to 0")
    g = p.add_argument_group("tricks")
    g.add_argument("--label-smoothing", type=float, help="one-sided: D's real target becomes 1 - S (e.g. 0.1)")
    g.add_argument("--instance-noise", type=float, help="std of noise added to D's inputs, annealed to 0")
    g.add_argument("--grad-clip", type=float, help="clip each network's gradient norm")
    g.add_argument("--ema", type=float, help="decay of the EMA copy of G used for sampling, 0: none; warmed up as "
                   f"min(ema, (1 + t) / (10 + t)) at step t {_d('ema')}")
    g.add_argument("--mode-seeking", type=float, help="weight of the mode-seeking term in G's loss (Mao et al. "
                   f"2019), against collapse within a class, 0: off {_d('mode_seeking')}")
    g.add_argument("--no-ema", action="store_true", help="keep no EMA copy of G")
    g = p.add_argument_group("health")
    g.add_argument("--health", action=argparse.BooleanOptionalAction, help="watch every log interval for D or G "
                   "domination, mode collapse, oscillation and divergence, and name them in the progress bar and "
                   "as events in metrics.jsonl (default: on; cheap)")
    g.add_argument("--auto-remedy", action="store_true", help="act on the health findings: lower a learning rate, "
                   "add instance noise or label smoothing, switch minimax to the non-saturating G loss, roll back "
                   "to the last checkpoint on NaN; each action is recorded in metrics.jsonl (default: off)")
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, help=f"weights, data order, noise: one seed makes the run repeatable "
                   f"{_d('seed')}")
    g.add_argument("--out", help="run directory (default: runs/DATASET-MODEL-LOSS)")
    g.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its newest checkpoint "
                   "(its config is reused; --steps may extend it)")
    g.add_argument("--config", metavar="FILE", help="start from a JSON config (e.g. a run's config.json); "
                   "flags override it")
    g.add_argument("--log-every", type=int, help=f"steps per metrics.jsonl line {_d('log_every')}")
    g.add_argument("--sample-every", type=int, help=f"steps per sample grid {_d('sample_every')}")
    g.add_argument("--eval-every", type=int, help="steps between scores logged to metrics.jsonl: FID/KID for "
                   "MNIST-family images, modes/hq for ring8 and grid25, JSD for gaussian1d (default: 0, off)")
    g.add_argument("--eval-n", type=int, help=f"generated samples per in-training score {_d('eval_n')}")
    g.add_argument("--ckpt-every", type=int, help=f"steps per checkpoint {_d('ckpt_every')}")
    g.add_argument("--keep-ckpts", type=int, help=f"checkpoints kept {_d('keep_ckpts')}")
    g.add_argument("--n-samples", type=int, help=f"images in each sample grid {_d('n_samples')}")
    g.add_argument("--device", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps "
                   f"{_d('device')}")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--tensorboard", action="store_true", help="also write metrics.jsonl's scalars and the sample "
                   "grids as TensorBoard events into RUN/tensorboard (pip install 'gankit[tensorboard]')")
    g = p.add_argument_group("scaling out", "torchrun --nproc_per_node N -m gankit train ... runs N ranks with "
                             "DistributedDataParallel (gloo on CPU, nccl on GPU); rank 0 writes the run directory")
    g.add_argument("--sync-bn", action="store_true", help="BatchNorm statistics over the global batch of all ranks "
                   "(SyncBatchNorm); without it each rank normalises its own rows")
    g = p.add_argument_group("speed", "measured side by side in bench/run.py (docs/speed.md)")
    g.add_argument("--channels-last", action="store_true", help="conv nets and image batches in NHWC memory "
                   "format: faster oneDNN convolutions on CPU")
    g.add_argument("--compile", action="store_true", help="torch.compile the training forwards of G and D: the "
                   "first steps take a minute or more to compile; it fuses the ops around the convolutions, which on CPU "
                   "measured no gain for the 28x28 DCGAN (single process only)")
    g.add_argument("--reuse-fake", action="store_true", help="G's update reuses the fake batch of the last D "
                   "update, as pytorch/examples' dcgan does, instead of drawing fresh z: one G forward fewer")
    p.set_defaults(func=cmd_train)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Flags given on the command line override the --config file, which overrides the defaults."""
    base = TrainConfig.from_json_file(args.config).to_dict() if getattr(args, "config", None) else {}
    given = {k: v for k, v in vars(args).items()
             if k not in ("func", "verb", "config", "resume", "lr", "no_ema", "no_progress", "trust_code")}
    if "lr" in vars(args):
        given.setdefault("lr_g", args.lr)
        given.setdefault("lr_d", args.lr)
    if getattr(args, "no_ema", False):
        given["ema"] = 0.0
    if getattr(args, "no_progress", False):
        given["progress"] = False
    if "toy_options" in given:
        given["toy_options"] = dict(given["toy_options"])
    merged = {**base, **given}
    if merged.get("task") in TASK_METHODS and "method" not in given and "method" not in base:
        merged["method"] = TASK_METHODS[merged["task"]][0]  # --task names its method
    if "out" not in merged:
        merged["out"] = str(Path("runs") / _run_name(merged))
    return TrainConfig.from_dict(merged, source="command line")


def _run_name(d: dict[str, Any]) -> str:
    dataset = str(d.get("dataset", DEFAULTS.dataset))
    if dataset.startswith("folder:"):
        dataset = Path(dataset[7:]).name or "folder"
    elif dataset.startswith("npy:"):
        dataset = Path(dataset[4:]).stem or "npy"
    model = d.get("model") or default_model(str(d.get("dataset", DEFAULTS.dataset)), method=str(d.get("method", "gan")),
                                            conditional=bool(d.get("conditional")), image_size=d.get("image_size"),
                                            channels=d.get("channels"))
    parts = [dataset, str(model), str(d.get("loss", DEFAULTS.loss))]
    if d.get("conditional"):
        parts.append("cond")
    return "-".join(parts)


#: config keys a resumed run may take with other values than it was trained with
RESUME_MAY_CHANGE = ("steps", "progress", "data_dir", "device")


def cmd_train(args: argparse.Namespace) -> int:
    from ..training import resume, train

    trust = bool(getattr(args, "trust_code", False))
    for flag in ("out", "resume"):  # an empty path is the current folder, never meant as a run folder
        if flag in vars(args) and not getattr(args, flag).strip():
            raise ConfigError(f"--{flag} must name a run folder, got an empty path")
    if getattr(args, "resume", None):
        RunDir(Path(args.resume)).check_writable()  # before its config.json is read
        _check_resume_flags(args)
        resume(args.resume, steps=getattr(args, "steps", None),
               progress=False if getattr(args, "no_progress", False) else None, trust_code=trust)
        return 0
    cfg = config_from_args(args)
    # a factory named by a flag is the caller's word to import it; one from a --config file needs --trust-code
    train(cfg, generator=getattr(args, "generator", None), discriminator=getattr(args, "discriminator", None),
          trust_code=trust)
    return 0


def _check_resume_flags(args: argparse.Namespace) -> None:
    """`train --resume RUN` retyped with the run's own flags is fine; a flag whose value differs from the run's
    saved config is refused, naming each such flag with both values. --steps may extend the run."""
    run = Path(args.resume)
    saved = TrainConfig.from_json_file(RunDir(run).config).to_dict()
    given = {k: v for k, v in vars(args).items() if k not in ("func", "verb", "resume", "trust_code")}
    if not given:
        return
    keys = _flag_keys(given)
    if "config" in given:  # the file's keys count as given, except recipe knobs it leaves unset (null)
        file_cfg = read_json_file(given["config"])
        TrainConfig.from_dict(file_cfg, source=given["config"])  # a malformed file is refused before its keys count
        keys |= {k for k, v in file_cfg.items() if not (v is None and k in RECIPE_FIELDS)}
    new = config_from_args(argparse.Namespace(**{"out": str(run), **given})).to_dict()
    differ = []
    for key in sorted(keys - set(RESUME_MAY_CHANGE)):
        a, b = saved.get(key), new.get(key)
        same = Path(str(a)).resolve() == Path(str(b)).resolve() if key == "out" else a == b
        if not same:
            differ.append(f"--{key.replace('_', '-')} (run: {a!r}, given: {b!r})")
    if differ:
        raise ConfigError(f"--resume continues {run} with its saved config; these flags differ from it: "
                          + "; ".join(differ) + ". Drop them, or start a new run with another --out")


def _flag_keys(given: dict[str, Any]) -> set[str]:
    """The config keys that the given command-line flags set."""
    keys = set(given) - {"lr", "no_ema", "no_progress", "config", "generator", "discriminator"}
    if "lr" in given:
        keys |= {"lr_g", "lr_d"}
    if "no_ema" in given:
        keys.add("ema")
    if "no_progress" in given:
        keys.add("progress")
    keys |= {k for k in ("generator", "discriminator") if k in given}
    return keys
