"""Opening the core: a method defined here trains through the public API and the CLI; your own data, networks
and loss make complete run directories; run directories never import code by themselves; bad parts get one
clear line and leave nothing behind."""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gankit
from gankit import checkpoint as ckpt
from gankit.cli import main as cli_main
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.methods import GAN, OptimizerGroup, Phase, method_names, register_method

SRC = Path(gankit.__file__).resolve().parent
TINY = dict(steps=6, batch_size=8, width=8, d_width=8, log_every=3, sample_every=3, ckpt_every=3, progress=False,
            health=False)


# ------------------------------------------------------------------------------------- a method of our own
class AuxHeadD(nn.Module):
    """A D with an auxiliary class head beside its real/fake logit (as in ACGAN)."""

    def __init__(self, data_shape, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(data_shape)), 32), nn.LeakyReLU(0.2))
        self.adv, self.cls = nn.Linear(32, 1), nn.Linear(32, num_classes)
        self.z_dim, self.num_classes, self.data_shape = 0, 0, tuple(data_shape)

    def forward(self, x, y=None):
        return self.adv(self.body(x)).squeeze(1)

    def classify(self, x):
        return self.cls(self.body(x))


class AuxGAN(GAN):
    """The GAN plus a third phase: D's class head learns the real labels; G is unconditional."""

    name = "test-aux"

    def build(self):
        nets = super().build()
        nets["D"] = AuxHeadD(self.data.sample_shape, self.data.num_classes)
        return nets

    def optimizers(self):
        return {**super().optimizers(), "C": OptimizerGroup(("D",), self.cfg.lr_d)}

    def phases(self):
        return super().phases() + [Phase("C", "C", frozen=("G",))]

    def loss(self, phase, batch, ctx):
        if phase.name != "C":
            return super().loss(phase, batch, ctx)
        loss = F.cross_entropy(ctx.nets["D"].classify(batch.x), batch.y)
        ctx.stats.add("Loss/C", loss)
        return loss


register_method(AuxGAN, replace=True)


def test_a_method_defined_here_trains_through_the_api(tmp_path):
    assert "test-aux" in method_names()
    res = gankit.train(TrainConfig(dataset="mnist5k", method="test-aux", model="mlp", **TINY, out=str(tmp_path / "a")))
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6] and all(r["Loss/C"] > 0 for r in rows)
    assert "GradNorm/C" in rows[-1] and "lr/C" in rows[-1]
    tensors, meta = ckpt.load(res.checkpoint)
    assert any(k.startswith("D/cls.") for k in tensors) and "opt_C" in meta
    # and it resumes bit for bit
    gankit.resume(tmp_path / "a", steps=9)
    full = gankit.train(TrainConfig(dataset="mnist5k", method="test-aux", model="mlp",
                                    **{**TINY, "steps": 9}, out=str(tmp_path / "b")))
    a, b = ckpt.load(ckpt.latest_checkpoint(tmp_path / "a"))[0], ckpt.load(full.checkpoint)[0]
    assert all(torch.equal(a[k], b[k]) for k in b if not k.startswith("rng/"))


def test_a_method_defined_here_trains_through_the_cli(tmp_path, capsys):
    code = cli_main(["train", "--method", "test-aux", "--model", "mlp", "--steps", "3", "--batch-size", "8",
                     "--width", "8", "--log-every", "3", "--no-progress", "--no-health", "--out", str(tmp_path / "c")])
    assert code == 0
    assert json.loads((tmp_path / "c" / "config.json").read_text())["method"] == "test-aux"
    assert "Loss/C" in json.loads((tmp_path / "c" / "metrics.jsonl").read_text().splitlines()[-1])


def test_register_method_refusals():
    with pytest.raises(ConfigError, match="subclass"):
        register_method(object)  # type: ignore[arg-type]

    class Other(GAN):
        name = "test-aux"

    with pytest.raises(ConfigError, match="already registered"):
        register_method(Other)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        gankit.train(TrainConfig(method="nope", **TINY, out="unused"))


# ------------------------------------------------------------------------------------- your own parts
class MyG(nn.Module):
    def __init__(self, z_dim=16):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, z):
        return self.net(z)


class MyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)  # [N, 1]: gankit takes [N] or [N, 1]


def _points(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g) * 0.1 + torch.tensor([1.0, -1.0])


def hinge_pair():
    return (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean())


def own_parts():
    torch.manual_seed(0)  # your modules are initialised by your code: the same seed, the same start
    return dict(data=_points(), generator=MyG(), discriminator=MyD(), loss=hinge_pair())


def test_own_data_networks_and_loss_make_a_complete_run(tmp_path):
    cfg = TrainConfig(**{**TINY, "batch_size": 64}, seed=1, out=str(tmp_path / "own"))
    res = gankit.train(cfg, **own_parts())
    saved = json.loads((tmp_path / "own" / "config.json").read_text())
    assert (saved["dataset"], saved["generator"], saved["discriminator"], saved["loss"]) == (
        "python:vectors", "python", "python", "custom")
    assert saved["batch_size"] == 64 and saved["lr_g"] == 5e-4  # vectors take the toy recipe
    assert sorted(p.name for p in (tmp_path / "own" / "samples").iterdir()) == ["step_0000003.png",
                                                                                  "step_0000006.png"]
    # resumes bit-identically given the same parts again
    with pytest.raises(ConfigError, match="loss=|data=|generator="):
        gankit.resume(tmp_path / "own", steps=9)
    gankit.resume(tmp_path / "own", steps=9, **own_parts())
    full = gankit.train(cfg.replace(steps=9, out=str(tmp_path / "full")), **own_parts())
    a, b = ckpt.load(ckpt.latest_checkpoint(tmp_path / "own"))[0], ckpt.load(full.checkpoint)[0]
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in b if not k.startswith("rng/"))
    # and loads into a fresh module of the same class
    with pytest.raises(ConfigError, match="generator="):
        gankit.load(tmp_path / "own")
    G = gankit.load(tmp_path / "own", generator=MyG())
    assert G.sample(5, seed=0).shape == (5, 2) and res.step == 6


def test_own_images_as_numpy_uint8_and_a_torch_dataset(tmp_path):
    from gankit.data import load_dataset

    real = load_dataset("mnist5k")
    pixels = ((real.x[:256, 0] + 1) * 127.5).round().to(torch.uint8).numpy()  # [256, 28, 28] uint8
    gankit.train(TrainConfig(model="dcgan", **TINY, out=str(tmp_path / "np")), data=pixels)
    cfg = json.loads((tmp_path / "np" / "config.json").read_text())
    assert cfg["dataset"] == "python:images" and cfg["z_dim"] == 100

    class Digits(torch.utils.data.Dataset):
        def __len__(self):
            return 64

        def __getitem__(self, i):
            return real.x[i * 78], int(real.y[i * 78])  # mnist5k is sorted by class: 0 to 9

    gankit.train(TrainConfig(model="dcgan", conditional=True, **TINY, out=str(tmp_path / "ds")), data=Digits())
    G = gankit.load(tmp_path / "ds")
    assert G.num_classes == 10 and G.sample(10, labels=3).shape == (10, 1, 28, 28)


def test_loss_as_an_object(tmp_path):
    class Wasserstein:
        uses_gradient_penalty = True

        def d_loss(self, real, fake):
            return fake.mean() - real.mean()

        def g_loss(self, fake):
            return -fake.mean()

    res = gankit.train(TrainConfig(dataset="ring8", model="mlp", **TINY, out=str(tmp_path / "w")), loss=Wasserstein())
    assert "Loss/GP" in res.last_metrics


@pytest.mark.parametrize("kwargs, needle", [
    (dict(data=torch.rand(64, 1, 28, 28) * 4), "must lie in \\[-1, 1\\]"),
    (dict(data=torch.zeros(64, 5, 28, 28)), "1 or 3 channels"),
    (dict(data=torch.zeros(64, 28, 28, dtype=torch.int32)), "dtype"),
    (dict(data=(torch.zeros(64, 2), torch.zeros(63, dtype=torch.long))), "63 labels for 64"),
    (dict(data=_points(), generator=nn.Linear(32, 3)), "returned"),
    (dict(data=_points(), generator=nn.Linear(16, 3)), "failed on an input of shape \\[2, 32\\]"),
    (dict(data=_points(), discriminator=nn.Linear(2, 4)), "one raw score per sample"),
    (dict(data=_points(), generator=nn.Identity()), "no parameters"),
    (dict(data=_points(), loss=(lambda r, f: (f - r), lambda f: -f.mean())), "scalar"),
    (dict(data=_points(), loss=lambda r, f: r), "pair"),
    (dict(generator="no_such_module_xyz:make"), "cannot import 'no_such_module_xyz'"),
    (dict(generator="not a path"), "package.module:function"),
])
def test_bad_parts_get_one_clear_line_and_write_nothing(tmp_path, kwargs, needle):
    out = tmp_path / "bad"
    cfg = TrainConfig(dataset="ring8", model="mlp", **{**TINY, "batch_size": 16}, out=str(out))
    with pytest.raises(ConfigError, match=needle) as e:
        gankit.train(cfg, **kwargs)
    assert "\n" not in str(e.value)
    assert not out.exists()


# ------------------------------------------------------------------------------------- code in run directories
FACTORY = '''
from pathlib import Path
Path({marker!r}).write_text("imported")
from torch import nn


def make_g(data_shape, z_dim, num_classes):
    return nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, data_shape[0]))
'''


def test_a_factory_in_a_run_is_imported_only_on_trust(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "evil_factory_mod.py").write_text(FACTORY.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    cfg = TrainConfig(dataset="ring8", model="mlp", **{**TINY, "batch_size": 16}, out=str(tmp_path / "f"))
    gankit.train(cfg, generator="evil_factory_mod:make_g")  # named by the caller: imported
    assert marker.exists()
    assert json.loads((tmp_path / "f" / "config.json").read_text())["generator"] == "evil_factory_mod:make_g"
    marker.unlink()
    sys.modules.pop("evil_factory_mod", None)
    for attempt in (lambda: gankit.load(tmp_path / "f"),
                    lambda: gankit.resume(tmp_path / "f", steps=9),
                    lambda: gankit.train(TrainConfig.from_json_file(tmp_path / "f" / "config.json").replace(
                        out=str(tmp_path / "g")))):
        with pytest.raises(ConfigError, match="trust_code=True"):
            attempt()
        assert not marker.exists() and "evil_factory_mod" not in sys.modules
    G = gankit.load(tmp_path / "f", trust_code=True)
    assert marker.exists() and G.sample(4, seed=0).shape == (4, 2)


# ------------------------------------------------------------------------------------- the loaded generator
def test_a_loaded_generator_is_a_module_you_can_invert(tmp_path):
    gankit.train(TrainConfig(dataset="ring8", model="mlp", **TINY, out=str(tmp_path / "r")))
    G = gankit.load(tmp_path / "r")
    assert isinstance(G, nn.Module) and G.net in list(G.children())
    assert sum(p.numel() for p in G.parameters()) == sum(p.numel() for p in G.net.parameters())
    target = G.sample(1, seed=5)
    z = torch.zeros(1, G.z_dim, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.05)
    first = None
    for _ in range(60):
        loss = (G(z) - target).pow(2).mean()
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert z.grad is not None and float(loss) < 0.5 * first
    assert not G.sample(3, seed=0).requires_grad  # sampling keeps its no-grad path


# ------------------------------------------------------------------------------------- the loop's shape
def test_the_loop_names_no_method_or_loss():
    from gankit.losses import LOSS_NAMES

    text = (SRC / "training" / "loop.py").read_text()
    code = "\n".join(line.split("#")[0] for line in text.splitlines() if not line.lstrip().startswith(('"', "'")))
    for name in [*method_names(), *LOSS_NAMES, "conditional", "reuse_fake", "mode_seeking", "gradient_penalty", "r1"]:
        assert not re.search(rf"\b{re.escape(name)}\b", code), name


def test_one_training_step_fits_on_one_screen():
    from gankit.training.loop import Stepper

    lines = inspect.getsource(Stepper.__call__).splitlines()
    assert len(lines) <= 70, len(lines)


def test_no_import_cycles_inside_gankit():
    """Module-level imports between gankit's modules form no cycle (imports inside functions are deferred by
    design and do not count)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        mod = "gankit." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        mod = mod.removesuffix(".__init__")
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base.startswith("gankit"):
                    deps |= {(base, f"{base}.{alias.name}") for alias in node.names}
            elif isinstance(node, ast.Import):
                deps |= {(a.name, a.name) for a in node.names if a.name.startswith("gankit")}
        graph[mod] = deps
    modules = set(graph)
    # `from pkg import name` needs pkg.name when that is a module, else pkg itself; a module's own ancestors are
    # already being imported when it runs, so an edge to one is no cycle
    edges = {m: {sub if sub in modules else base for base, sub in deps} - {m} - {a for a in modules
             if m.startswith(a + ".")} for m, deps in graph.items()}
    edges = {m: {d for d in ds if d in modules} for m, ds in edges.items()}

    def parents(m: str) -> set[str]:  # importing a.b.c runs a and a.b first
        parts = m.split(".")
        return {".".join(parts[:i]) for i in range(2, len(parts))} & modules

    for m in list(edges):
        edges[m] |= {p for d in list(edges[m]) for p in parents(d) if not m.startswith(p + ".") and p != m}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


# ------------------------------------------------------------------------------------- resume and devices
@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "run"
    assert cli_main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "6", "--batch-size", "16",
                     "--log-every", "3", "--ckpt-every", "3", "--no-progress", "--out", str(out)]) == 0
    return out


def test_resume_accepts_the_same_command_retyped(toy_run, capsys):
    assert cli_main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "9", "--batch-size", "16",
                     "--log-every", "3", "--ckpt-every", "3", "--no-progress", "--out", str(toy_run),
                     "--resume", str(toy_run)]) == 0
    assert ckpt.list_checkpoints(toy_run)[-1][0] == 9


def test_resume_refuses_a_differing_flag_naming_both_values(toy_run, capsys):
    code = cli_main(["train", "--resume", str(toy_run), "--batch-size", "32", "--lr", "0.1", "--model", "mlp"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--batch-size (run: 16, given: 32)" in err and "--lr-g (run: 0.0005, given: 0.1)" in err
    assert "--model" not in err


@pytest.mark.parametrize("device, needle", [("cuda:0", "no CUDA device"), ("cuda:x", "cuda:N"),
                                            ("gpu", "auto, cpu, cuda, cuda:N or mps")])
def test_an_absent_or_unknown_device_is_one_clear_line(tmp_path, capsys, device, needle):
    if device == "cuda:0" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = cli_main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "2", "--device", device,
                     "--no-progress", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d").exists()


def test_runs_are_named_after_their_method_where_the_method_brings_its_own_networks():
    from gankit.methods import get_method

    assert get_method("gan").label("dcgan", "hinge") == "dcgan/hinge"
    assert get_method("infogan").label("dcgan", "nonsaturating") == "infogan dcgan/nonsaturating"
    for name in ("pix2pix", "cyclegan", "progressive", "stylegan", "rgan", "text2image"):
        assert get_method(name).label("dcgan", "lsgan") == f"{name}/lsgan", name
