"""Typed training configuration.

One dataclass holds every knob of a run. It is written to `config.json` and into every checkpoint, so a model
can be rebuilt from a checkpoint alone. Loading is strict: an unknown key or a value of the wrong type is an
error that names the key, because a silently ignored typo ("lr_G") wastes a whole training run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

PRIORS = ("gaussian", "uniform")
COND_D = ("projection", "concat")
RNN_CELLS = ("lstm", "gru")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # cuda:N: the N-th GPU
#: image-to-image tasks and the methods that train them (the first is the one --task implies); the tasks
#: themselves (how an input and its target are made) live in gankit.data.tasks
TASK_METHODS: dict[str, tuple[str, ...]] = {
    "edges": ("pix2pix",), "superres4": ("pix2pix",), "superres2": ("pix2pix",), "inpaint": ("pix2pix",),
    "colorize": ("pix2pix",), "cyclegan": ("cyclegan",),
}
#: `dataset` of a run whose data was given from Python (gankit.train(cfg, data=...)): images or vectors
PYTHON_DATA = ("python:images", "python:vectors")
#: `generator` / `discriminator` of a run whose network was given from Python as a module
PYTHON_NETWORK = "python"

#: Upper bounds of the integer knobs (inclusive ranges): far beyond any real run, low enough that a slip of the
#: keyboard (a few zeros too many) is refused here, naming the key, rather than failing as an allocation or an
#: integer overflow deep inside torch.
MAX_STEPS = 100_000_000
MAX_WIDTH = 4096  # width, d_width, z_dim
MAX_DEPTH = 64
# the seeds derived from it (seed * 1,000,003 + epoch for the data order and the in-training scores) must stay
# within torch's 64-bit seed range: the largest power of two that keeps them there
MAX_SEED = 2**44 - 1
#: a learning rate past this makes Adam's step overflow float32 (a traceback from the optimizer); real ones are <= 1
MAX_LR = 1e15
#: float keys end up as float32 tensors or scalars; past this they would be inf there
FLOAT32_MAX = 3.4028234663852886e38
INT_RANGES: dict[str, tuple[int, int]] = {
    "seed": (0, MAX_SEED),
    "steps": (1, MAX_STEPS),
    "batch_size": (1, 65_536),
    "d_steps": (1, 100),
    "log_every": (1, MAX_STEPS),
    "sample_every": (1, MAX_STEPS),
    "ckpt_every": (1, MAX_STEPS),
    "eval_every": (0, MAX_STEPS),
    "keep_ckpts": (1, 10_000),
    "n_samples": (1, 4096),
    "eval_n": (2, 100_000),
    "width": (1, MAX_WIDTH),
    "d_width": (1, MAX_WIDTH),
    "z_dim": (1, MAX_WIDTH),
    "depth": (1, MAX_DEPTH),
    "image_size": (8, 1024),
    "info_cat": (0, 1000),
    "info_cont": (0, 64),
    "labels_per_class": (0, 100_000),
    "pack": (1, 64),
    "unrolled": (0, 100),
    "minibatch_disc": (0, 1024),
    "phase_steps": (1, MAX_STEPS),
    "mapping_layers": (1, 16),
}
#: A JSON config is a few kilobytes; reading stops here, so a huge file or a device is refused, not slurped.
MAX_CONFIG_BYTES = 1 << 20

#: Fields whose None means "the default recipe's value" (see gankit.recipes); `train` fills them in before it
#: writes config.json, so a run's config always holds the numbers it used.
RECIPE_FIELDS = ("steps", "batch_size", "d_steps", "lr_g", "lr_d", "beta2", "width", "d_width", "depth", "z_dim", "ema",
                 "r1", "mode_seeking")


@dataclass
class TrainConfig:
    """Everything that determines a training run. None in a RECIPE_FIELDS field means "the recipe's value"
    (gankit.recipes): the DCGAN defaults for images, wide MLPs with R1 for the toys, k = 5 for WGAN-GP."""

    # --- data
    dataset: str = "mnist5k"  # a name from gankit.data.DATASET_NAMES, or "folder:PATH"
    data_dir: str | None = None  # where mnist / fashion-mnist IDX files live (else $GANKIT_DATA, else cache)
    image_size: int | None = None  # None: the data set's native size (28 for MNIST)
    channels: int | None = None  # None: the data set's native channels
    toy_options: dict[str, float] = field(default_factory=dict)  # e.g. {"mu": 4.0, "sigma": 0.5} for gaussian1d

    # --- method and model
    method: str = "gan"  # a name from gankit.methods.method_names(): what a training step computes
    # a name from gankit.models.MODEL_NAMES; None: the recipe's (gankit.recipes.default_model: mlp for toy data,
    # dcgan-dense for the GAN on 28x28 grey MNIST-family images, else dcgan)
    model: str | None = None
    # your own networks: a factory "package.module:function" (imported only on the caller's word), "python" for a
    # module given to gankit.train from Python, or None to build `model`
    generator: str | None = None
    discriminator: str | None = None
    width: int | None = None  # G's base channel / hidden width (and D's unless d_width is set)
    d_width: int | None = None  # D's base width; None after resolving: the same as width
    depth: int | None = None  # hidden layers of the MLP's G and D; None: the model's own (2 on toys, 3 on images)
    z_dim: int | None = None  # 100 for images, 32 for toy data
    prior: str = "gaussian"  # distribution of z: gaussian N(0, I) or uniform U[-1, 1]
    conditional: bool = False  # class-conditional G and D ("draw me a 7")
    # how D sees the label: concat (one-hot input maps for conv Ds, an embedding beside the MLP's features;
    # Mirza & Osindero 2014) or projection
    # (Miyato & Koyama 2018). concat is the default: measured on mnist5k with the DCGAN recipe, the projection D
    # without spectral norm drove G to one image per class (within-class L1 diversity 0.04-0.06 vs 0.20 for
    # concat after 1000 steps; real digits 0.30)
    cond_d: str = "concat"
    # spectral norm on every weight of the built-in D, whose BatchNorm layers are then removed (Miyato et al. 2018;
    # gankit.models.spectral). --model sagan has it in G and D anyway
    spectral_norm: bool = False
    # the recurrent cell of the sequence networks (--method rgan; gankit.models.recurrent): gru or lstm. gru by
    # default: on sines (seed 0, width 64, one layer, Adam 1e-3) its series' dominant-frequency W1 to real ones was
    # 1.3 cycles after 500 steps, the lstm's 2.7 after 600
    rnn_cell: str = "gru"
    # semi-supervised methods (--method sgan): labelled examples kept per class, drawn with `seed`; the other
    # examples train as unlabelled data. 0: not semi-supervised
    labels_per_class: int = 0

    # --- objective
    loss: str = "nonsaturating"  # a name from gankit.losses.LOSS_NAMES
    lsgan_abc: tuple[float, float, float] = (0.0, 1.0, 1.0)  # LSGAN codes a (fake), b (real), c (G's target)
    gp_weight: float = 10.0  # gradient-penalty weight for wgan-gp
    r1: float | None = None  # gamma of the R1 penalty on D's gradient at real data (Mescheder et al. 2018); 0: off

    # --- optimisation (Algorithm 1 of Goodfellow et al. 2014 with Adam, DCGAN defaults)
    steps: int | None = None  # generator updates
    batch_size: int | None = None
    d_steps: int | None = None  # k: discriminator updates per generator update
    lr_g: float | None = None
    lr_d: float | None = None  # set apart from lr_g for TTUR (Heusel et al. 2017)
    beta1: float = 0.5
    beta2: float | None = None
    lr_decay: bool = False  # linear decay of both learning rates to zero at the last step

    # --- practitioners' tricks, each explicit
    label_smoothing: float = 0.0  # one-sided: D's real target becomes 1 - label_smoothing (Salimans et al. 2016)
    instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs, annealed linearly to 0
    grad_clip: float | None = None  # clip each network's gradient norm to this value
    ema: float | None = None  # decay of the EMA copy of G used for sampling; 0 keeps no EMA copy
    # weight of the mode-seeking term in G's loss (Mao et al. 2019): G's update draws pairs of z with one label
    # each and is penalised when a pair's images differ little; against collapse within a class. 0: off
    mode_seeking: float | None = None

    # --- InfoGAN (--method infogan; Chen et al. 2016): latent codes and the mutual-information term.
    # The paper's MNIST setup: one 10-way categorical code, two continuous codes U(-1, 1), 62 noise dims (z_dim).
    info_cat: int = 10  # categories of the categorical code (0: none)
    info_cont: int = 2  # continuous codes, each U(-1, 1)
    info_weight: float = 1.0  # lambda of the categorical term (cross-entropy of Q's logits vs the code); paper: 1
    # lambda of the continuous term (Gaussian NLL of the codes under Q's means, unit variance): smaller than the
    # categorical one, as the paper advises for continuous codes
    info_cont_weight: float = 0.5

    # --- AC-GAN (--method acgan; Odena et al. 2017): weight of the auxiliary class loss (cross-entropy of D's
    # class head, on real and fake batches for D, on fake for G) beside the real/fake objective
    aux_weight: float = 1.0
    # D's class loss on fake batches too, as in the paper. Off by default: D then learns classes from real data
    # only, so G cannot satisfy its class term with images D alone files under a label (see gankit.methods.acgan)
    aux_on_fake: bool = False

    # --- image-to-image (--task; --method pix2pix for the paired tasks, cyclegan for unpaired translation):
    # the task names the input -> output pair made from the data set on the fly (gankit.data.tasks); None: a GAN
    # that generates from noise
    task: str | None = None
    adv_weight: float = 1.0  # weight of the adversarial term; 0 trains the same network on the L1/L2 term alone
    recon_weight: float = 100.0  # weight of the paired reconstruction (L1) term; pix2pix's lambda = 100
    cycle_weight: float = 10.0  # weight of CycleGAN's cycle-consistency L1 term; Zhu et al. 2017's lambda = 10
    domain_b: str = "thick"  # CycleGAN's second domain, made from the data set: thick (dilated strokes), invert

    # --- mode-collapse remedies of the GAN method (--method gan), each off by default
    # PacGAN (Lin et al. 2018): D judges `pack` samples at once, concatenated along channels (features for vectors);
    # each pack is all real or all fake; the batch must divide into packs. 1: off (gankit.models.packing)
    pack: int = 1
    # unrolled GAN (Metz et al. 2017): G's gradient flows through this many look-ahead D updates on the step's
    # batch; D's own weights are not changed by them. 0: off (gankit.methods.unroll)
    unrolled: int = 0
    # minibatch discrimination (Salimans et al. 2016): kernels B of the tensor T [A, B, 5] whose features join D's
    # last layer, for the mlp and dcgan Ds. 0: off (gankit.models.minibatch)
    minibatch_disc: int = 0

    # --- growing and style-based generators (--method progressive, --method stylegan; docs/growing.md)
    # the final image size, a power of two in [8, 256]; the data are resized to it (it sets image_size when that
    # is unset). None: the data's own size, which must then be a power of two
    resolution: int | None = None
    # progressive growing: steps of each fade-in and of each stabilising stretch (Karras et al. 2018); None:
    # the run's steps shared evenly over the 2 * levels - 1 stretches from 4x4 up to `resolution`
    phase_steps: int | None = None
    # StyleGAN: fully connected layers of the mapping network z -> w, and the share of training samples whose
    # styles switch from one latent's w to another's at a random layer (style-mixing regularisation; paper: 0.9)
    mapping_layers: int = 4
    style_mixing: float = 0.9

    # --- health monitor (gankit.health): findings as events in metrics.jsonl; auto_remedy acts on them
    health: bool = True
    auto_remedy: bool = False

    # --- bookkeeping
    seed: int = 0
    out: str = "runs/gankit"
    log_every: int = 50
    eval_every: int = 0  # steps between in-training scores (FID/KID, or modes / JSD for toys); 0: off
    eval_n: int = 2000  # generated samples per in-training score
    sample_every: int = 200
    ckpt_every: int = 500
    keep_ckpts: int = 2  # how many checkpoints to keep (the newest); the final one is always kept
    n_samples: int = 64  # size of the fixed noise batch drawn into samples/step_*.png
    device: str = "auto"
    progress: bool = True  # show a progress bar
    tensorboard: bool = False  # also write metrics.jsonl's scalars and the sample grids as TensorBoard events
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch of all ranks

    # --- speed (measured in bench/run.py; see docs/speed.md)
    channels_last: bool = False  # conv nets and image batches in NHWC memory: faster oneDNN convolutions on CPU
    compile: bool = False  # torch.compile the networks' training forwards: a slow first step, faster after
    # G's update reuses the fake batch of the last D update (pytorch/examples' dcgan does) instead of fresh z
    # (Algorithm 1 of Goodfellow et al.): one generator forward fewer per step
    reuse_fake: bool = False

    def __post_init__(self) -> None:
        if self.resolution is not None and self.image_size is None and _is_int(self.resolution):
            self.image_size = self.resolution  # the growing methods' final size is the data's size
        if self.task is None:  # the one rule both ways round: a method that trains a single task implies it
            only = [t for t, methods in TASK_METHODS.items() if self.method in methods]
            if len(only) == 1:  # cyclegan -> task cyclegan; pix2pix trains several, so it names none
                self.task = only[0]
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Range and choice checks that do not need the registries (those are checked where they live)."""
        _check_types(self)
        if not self.out.strip():  # Path("") is the current folder: never a run folder by accident
            raise ConfigError(f"config key 'out' must name a run folder, got {self.out!r}")
        _check_finite(self)
        _check_int_ranges(self)
        _check_no_nul(self)
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) is not None and not 0 < getattr(self, name) <= MAX_LR:
                raise ConfigError(f"config key {name!r} must be in (0, {MAX_LR:g}], got {_show(getattr(self, name))}")
        for name in ("beta1", "beta2"):
            if getattr(self, name) is not None and not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"config key {name!r} must be in [0, 1), got {_show(getattr(self, name))}")
        if self.prior not in PRIORS:
            raise ConfigError(f"config key 'prior' must be one of {PRIORS}, got {_show(self.prior)}")
        if self.rnn_cell not in RNN_CELLS:
            raise ConfigError(f"config key 'rnn_cell' must be one of {RNN_CELLS}, got {_show(self.rnn_cell)}")
        if self.cond_d not in COND_D:
            raise ConfigError(f"config key 'cond_d' must be one of {COND_D}, got {_show(self.cond_d)}")
        if not valid_device(self.device):
            raise ConfigError(f"config key 'device' must be auto, cpu, cuda, cuda:N or mps, got {_show(self.device)}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"config key 'ema' must be in [0, 1) (0: no EMA copy), got {_show(self.ema)}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"config key 'label_smoothing' must be in [0, 0.5), got {_show(self.label_smoothing)}")
        if self.instance_noise < 0:
            raise ConfigError(f"config key 'instance_noise' must be >= 0, got {_show(self.instance_noise)}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"config key 'grad_clip' must be > 0 or null, got {_show(self.grad_clip)}")
        if self.auto_remedy and not self.health:
            raise ConfigError("config key 'auto_remedy' needs 'health' (the monitor whose findings it acts on)")
        if self.r1 is not None and self.r1 < 0:
            raise ConfigError(f"config key 'r1' must be >= 0, got {_show(self.r1)}")
        if self.mode_seeking is not None and self.mode_seeking < 0:
            raise ConfigError(f"config key 'mode_seeking' must be >= 0 (0: off), got {_show(self.mode_seeking)}")
        if self.mode_seeking and self.reuse_fake:
            raise ConfigError("config keys 'mode_seeking' and 'reuse_fake' do not combine: the mode-seeking term "
                              "needs G's update to draw its own pairs of z that share a label")
        if self.mode_seeking and self.batch_size is not None and self.batch_size % 2:
            raise ConfigError(f"config key 'mode_seeking' pairs the batch's rows: batch_size must be even, "
                              f"got {_show(self.batch_size)}")
        if self.resolution is not None and not (8 <= self.resolution <= 256
                                                and self.resolution & (self.resolution - 1) == 0):
            raise ConfigError(f"config key 'resolution' must be a power of two in [8, 256] (the networks double "
                              f"4x4 up to it), got {_show(self.resolution)}")
        if self.resolution is not None and self.image_size != self.resolution:
            raise ConfigError(f"config keys 'resolution' ({self.resolution}) and 'image_size' "
                              f"({_show(self.image_size)}) disagree: the final size is the data's size")
        if not 0.0 <= self.style_mixing <= 1.0:
            raise ConfigError(f"config key 'style_mixing' must be in [0, 1], got {_show(self.style_mixing)}")
        if self.gp_weight < 0:
            raise ConfigError(f"config key 'gp_weight' must be >= 0, got {_show(self.gp_weight)}")
        if self.info_cat == 1:
            raise ConfigError("config key 'info_cat' must be 0 (no categorical code) or at least 2, got 1")
        for name in ("info_weight", "info_cont_weight", "aux_weight", "adv_weight", "recon_weight", "cycle_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"config key {name!r} must be >= 0, got {_show(getattr(self, name))}")
        if self.task is not None and self.method not in TASK_METHODS.get(self.task, (self.method,)):
            raise ConfigError(f"config key 'task' {_show(self.task)} is trained by --method "
                              f"{' or '.join(TASK_METHODS[self.task])}, got method {_show(self.method)}")
        if self.task == "cyclegan":  # the domain registry (gankit.data.domains) names the choices
            from .data.domains import get_domain

            get_domain(self.domain_b)
        if self.channels is not None and self.channels not in (1, 3):
            raise ConfigError(f"config key 'channels' must be 1 or 3, got {_show(self.channels)}")
        if self.spectral_norm and self.discriminator is not None:
            raise ConfigError("config key 'spectral_norm' normalises the built-in discriminators; a discriminator of "
                              "your own takes torch.nn.utils.parametrizations.spectral_norm on its layers itself")
        self._validate_mode_options()
        if len(self.lsgan_abc) != 3:
            raise ConfigError(f"config key 'lsgan_abc' needs three numbers a,b,c, got {_show(self.lsgan_abc)}")

    def _validate_mode_options(self) -> None:
        """pack, unrolled and minibatch_disc: options of the GAN method and its built-in models."""
        used = [k for k, off in (("pack", 1), ("unrolled", 0), ("minibatch_disc", 0)) if getattr(self, k) != off]
        if used and self.method != "gan":
            raise ConfigError(f"config key {used[0]!r} is an option of method 'gan', got method {_show(self.method)}")
        if self.pack > 1 and self.batch_size is not None and self.batch_size % self.pack:
            raise ConfigError(f"config key 'pack' {self.pack} must divide batch_size, got {_show(self.batch_size)}")
        if self.pack > 1 and self.conditional:
            raise ConfigError("config key 'pack' does not combine with 'conditional': a packed D judges several "
                              "samples at once and takes no labels")
        if self.minibatch_disc and self.discriminator is not None:
            raise ConfigError("config key 'minibatch_disc' is an option of the built-in mlp and dcgan "
                              "discriminators; a discriminator of your own adds the layer itself")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lsgan_abc"] = list(self.lsgan_abc)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "TrainConfig":
        """Strict: unknown keys and wrong types raise ConfigError naming the key and `source`."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known, key=repr)
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ConfigError(f"{source}: unknown config key(s) {', '.join(map(_show, unknown[:5]))}{more}")
        kwargs = dict(data)
        if "lsgan_abc" in kwargs and isinstance(kwargs["lsgan_abc"], list):
            kwargs["lsgan_abc"] = tuple(kwargs["lsgan_abc"])
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_json_file(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        return cls.from_dict(read_json_file(path), source=str(path))

    def resolved(self) -> "TrainConfig":
        """This config with every unset recipe field filled in from gankit.recipes."""
        from .recipes import resolve

        return resolve(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_device(name: str) -> bool:
    """auto, cpu, cuda, cuda:N (N >= 0) or mps: whether the name is well formed, not whether the device exists."""
    if name in ("auto", "cpu", "cuda", "mps"):
        return True
    kind, sep, index = name.partition(":")
    return kind == "cuda" and sep == ":" and index.isdigit()


def read_json_file(path: str | Path, what: str = "JSON config") -> Any:
    """The JSON value in the regular file `path`, read only up to MAX_CONFIG_BYTES; every way a file can fail to
    be that (missing, a folder or FIFO, too big, not UTF-8, not JSON, nested too deep, an integer too long for
    Python) is a one-line ConfigError naming the file."""
    path = Path(path)
    blob = read_bounded(path, what)
    try:
        return json.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a readable {what} (not UTF-8 text: {e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not a readable {what} ({e})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a readable {what} (nested too deeply)") from None
    except ValueError as e:  # an integer literal past Python's int-string limit
        raise ConfigError(f"{path}: not a readable {what} ({one_line(e)})") from None


def read_bounded(path: Path, what: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of the regular file `path`, refused past `limit`. Opened without blocking and checked with fstat on
    the open descriptor, so a FIFO (which would block) or a file swapped for one after a check is refused."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} file ({e.strerror or one_line(e)})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise ConfigError(f"{path}: {kind}, expected a {what} file")
    with os.fdopen(fd, "rb") as fh:
        try:
            blob = fh.read(limit + 1)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read {what} file ({e.strerror or one_line(e)})") from None
    if len(blob) > limit:
        raise ConfigError(f"{path}: larger than {limit / (1 << 20):g} MiB, too big for a {what} file")
    return blob


def one_line(e: BaseException) -> str:
    """An exception's message on one line; Python's int-string limit message without its advice to the caller."""
    text = str(e).split("; use sys.set_int_max_str_digits()")[0]
    return " ".join((text or type(e).__name__).split())


def _show(value: Any) -> str:
    """repr(value) fit for a one-line message: short, and safe for integers too long for str()."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _check_types(cfg: TrainConfig) -> None:
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if not _matches(value, hints[f.name]):
            raise ConfigError(
                f"config key {f.name!r} must be of type {_type_name(hints[f.name])}, got {_show(value)}"
            )


def _finite(value: Any) -> bool:
    """A number that is neither NaN nor infinite, nor beyond float32's range (it would become inf in a tensor)."""
    return not (isinstance(value, float) and math.isnan(value)) and abs(value) <= FLOAT32_MAX  # int vs float: exact


def _check_finite(cfg: TrainConfig) -> None:
    """NaN passes every comparison-based range check (they are all false), so each number is checked here first."""
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(cfg):
        if not _holds_floats(hints[f.name]):
            continue
        value = getattr(cfg, f.name)
        numbers = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else (value,)
        bad = [v for v in numbers if v is not None and not _finite(v)]
        if bad:
            what = "finite numbers" if isinstance(value, (dict, tuple)) else "a finite number"
            what += " (at most 3.4e38 in size, float32's range)"
            raise ConfigError(f"config key {f.name!r} must hold {what}, got {_show(bad[0])}")


def _holds_floats(tp: Any) -> bool:
    return tp is float or any(_holds_floats(a) for a in typing.get_args(tp))


def _check_int_ranges(cfg: TrainConfig) -> None:
    for name, (low, high) in INT_RANGES.items():
        value = getattr(cfg, name)
        if value is not None and not low <= value <= high:
            raise ConfigError(f"config key {name!r} must be in [{low}, {high}], got {_show(value)}")


def _check_no_nul(cfg: TrainConfig) -> None:
    """A NUL character cannot be in a path or a name; the OS would refuse it only deep inside a run."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, str) and "\0" in value:
            raise ConfigError(f"config key {f.name!r} holds a NUL character: {_show(value)}")


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:  # ints are fine where floats are expected (lr_g=1 is a number, not a typo)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is bool:
        return isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(tp)
        return isinstance(value, tuple) and len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args))
    if origin is dict:
        kt, vt = typing.get_args(tp)
        return isinstance(value, dict) and all(_matches(k, kt) and _matches(v, vt) for k, v in value.items())
    raise TypeError(f"unsupported config type {tp!r}")  # a programming error, not a user's


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))
