"""Unpaired translation (--method cyclegan / --task cyclegan): the domains and their disjoint halves, the cycle and
adversarial terms by hand, which images each D sees, the translators through gankit.load and gankit evaluate, the
snapshot rows, resume, and the refusals."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import refused
from PIL import Image
from torch import nn

import gankit
from gankit import checkpoint as ckpt
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.data.domains import domain_names, get_domain, invert, thicken, unpaired_split
from gankit.data.transforms import as_float
from gankit.distributed import BatchShard
from gankit.errors import ConfigError
from gankit.methods import Draws, StepContext, build_method
from gankit.methods.cyclegan import SHOW, cycle_loss
from gankit.models.cyclenets import PatchDiscriminator, ResnetTranslator
from gankit.stats import Stats

TINY = dict(dataset="mnist5k", method="cyclegan", loss="lsgan", width=4, d_width=4, steps=6, batch_size=4,
            log_every=3, sample_every=3, ckpt_every=3, progress=False)


# ---------------------------------------------------------------------------------------------- domains
def test_thicken_dilates_a_pixel_into_a_3x3_block_and_invert_swaps_ink_and_paper():
    x = torch.full((1, 1, 5, 5), -1.0)
    x[0, 0, 2, 2] = 1.0
    t = thicken(x)
    assert torch.equal(t[0, 0, 1:4, 1:4], torch.ones(3, 3))
    assert (t == 1).sum() == 9 and (t == -1).sum() == 16
    x[0, 0, 0, 0] = 0.5
    assert torch.equal(invert(x), -x)  # 1 - p in [0, 1] is -x in [-1, 1]
    assert torch.equal(get_domain("invert").readable(invert(x)), x)
    assert torch.equal(get_domain("thick").readable(t), t)


def test_unknown_domain_names_the_value_and_the_choices():
    assert {"thick", "invert"} <= set(domain_names())
    with pytest.raises(ConfigError, match="unknown domain_b 'bold'; choose one of thick, invert"):
        get_domain("bold")


def test_unpaired_split_is_seeded_and_disjoint():
    held, a, b = unpaired_split(101, seed=3, held_out=5)
    assert (len(held), len(a), len(b)) == (5, 48, 48)
    every = torch.cat([held, a, b])
    assert sorted(every.tolist()) == list(range(101))  # each image in exactly one part
    again = unpaired_split(101, seed=3, held_out=5)
    assert all(torch.equal(u, v) for u, v in zip((held, a, b), again))
    assert not torch.equal(unpaired_split(101, seed=4, held_out=5)[1], a)


def test_cycle_loss_by_hand():
    x = torch.tensor([[0.0, 1.0], [-1.0, 0.5]])
    rec = torch.tensor([[0.5, 1.0], [0.0, 0.0]])
    assert cycle_loss(x, rec).item() == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)


def test_networks_shapes():
    G, D = ResnetTranslator((1, 28, 28), 4, 2), PatchDiscriminator((1, 28, 28), 4)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    y = G(x)
    assert y.shape == (3, 1, 28, 28) and y.abs().max() <= 1
    assert D(x).shape == (3, 1, 7, 7)
    assert torch.equal(G.eval()(x), G.train()(x))  # instance norm keeps no statistics: one function in both modes


# ---------------------------------------------------------------------------------------------- the phases by hand
class Shift(nn.Module):
    """A translator that adds a constant: x -> x + c (a parameter, so the optimizer has something to hold)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x, y=None):
        return x + self.c


class Spy(nn.Module):
    """A D that records its inputs and answers a constant score per patch."""

    def __init__(self, answer: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.answer, self.seen = answer, []

    def forward(self, x, y=None):
        self.seen.append(x.detach().clone())
        return torch.full((x.shape[0], 1, 2, 2), self.answer) + 0 * self.w + 0 * x.sum()


def _indexed_images(n: int = 60) -> Dataset:
    """uint8 images whose first two pixels spell their index, so every row of a batch names its source image."""
    x = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    x[:, 0, 0, 0] = torch.arange(n) % 256
    x[:, 0, 0, 1] = torch.arange(n) // 256
    x[:, 0, 5:20, 10:14] = 200  # a stroke
    return Dataset("indexed", x, None, 0)


def _index_of(images: torch.Tensor) -> list[int]:
    """The source index of each image in [-1, 1] (the inverse of as_float on the first two pixels)."""
    p = ((images[:, 0, 0, :2] + 1) * 127.5).round().long()
    return (p[:, 0] + 256 * p[:, 1]).tolist()


def _setup(adv_weight=1.0, cycle_weight=10.0, domain_b="invert"):
    cfg = TrainConfig(**{**TINY, "adv_weight": adv_weight, "cycle_weight": cycle_weight, "domain_b": domain_b},
                      out="unused").resolved()
    data = _indexed_images()
    method = build_method(cfg, data)
    nets = method.build()
    nets.update({"G_ab": Shift(0.5), "G_ba": Shift(-0.25)})
    if adv_weight:
        nets.update({"D_a": Spy(-0.4), "D_b": Spy(0.2)})
    draws = Draws(torch.Generator().manual_seed(5), BatchShard(4, 0, 1), torch.device("cpu"), "gaussian")
    ctx = StepContext(0, 0, nets, nets, nets, draws, Stats())
    return method, nets, ctx, data


def test_g_objective_by_hand():
    method, nets, ctx, _ = _setup()
    g_phase, _ = method.phases()
    loss = method.loss(g_phase, None, ctx)
    # round trips: a -> a + 0.5 -> a + 0.25 and b -> b - 0.25 -> b + 0.25: each cycle term is 0.25, lambda = 10
    # LSGAN's G term 0.5 (D - 1)^2: D_b answers 0.2 -> 0.32, D_a answers -0.4 -> 0.98
    assert loss.item() == pytest.approx(10 * (0.25 + 0.25) + (0.32 + 0.98), abs=1e-5)
    method, nets, ctx, _ = _setup(adv_weight=2.0, cycle_weight=3.0)
    assert method.loss(method.phases()[0], None, ctx).item() == pytest.approx(3 * 0.5 + 2 * 1.3, abs=1e-5)


def test_without_the_adversarial_term_there_is_no_d_and_the_cycle_term_alone():
    method, nets, ctx, _ = _setup(adv_weight=0.0)
    assert [p.name for p in method.phases()] == ["G"] and set(method.build()) == {"G_ab", "G_ba"}
    assert set(method.optimizers()) == {"G"}
    assert method.loss(method.phases()[0], None, ctx).item() == pytest.approx(10 * 0.5, abs=1e-5)


def test_each_d_sees_only_its_own_domain_and_a_and_b_come_from_disjoint_images():
    method, nets, ctx, data = _setup()
    g_phase, d_phase = method.phases()
    a_idx, b_idx = set(method.idx_a.tolist()), set(method.idx_b.tolist())
    for _ in range(5):
        method.loss(g_phase, None, ctx)
        d_loss = method.loss(d_phase, None, ctx)
        # LSGAN D terms 0.5 (real - 1)^2 + 0.5 fake^2 with constant answers: D_a -0.4 -> 0.98 + 0.08, D_b 0.2 -> 0.32
        # + 0.02
        assert d_loss.item() == pytest.approx(1.06 + 0.34, abs=1e-5)
    D_a, D_b = nets["D_a"].seen, nets["D_b"].seen
    # per step: G phase (one fake each), D phase (real, then fake)
    for step in range(5):
        g_fake_b, real_b, fake_b = D_b[3 * step:3 * step + 3]
        g_fake_a, real_a, fake_a = D_a[3 * step:3 * step + 3]
        assert set(_index_of(real_a)) <= a_idx  # D_a's real images: domain A's half, as they are
        assert torch.equal(real_a, as_float(data.x[_index_of(real_a)]))
        assert set(_index_of(-real_b)) <= b_idx  # D_b's real images: the B half, inverted
        assert torch.equal(real_b, -as_float(data.x[_index_of(-real_b)]))
        assert torch.equal(fake_b, real_a + 0.5) and torch.equal(g_fake_b, fake_b)  # G_ab(a): D_b's fakes
        assert torch.equal(fake_a, real_b - 0.25) and torch.equal(g_fake_a, fake_a)  # G_ba(b): D_a's fakes
    assert not a_idx & b_idx and not (a_idx | b_idx) & set(method.held_out.tolist())


# ---------------------------------------------------------------------------------------------- config rules
def test_method_and_task_imply_each_other():
    assert TrainConfig(method="cyclegan", out="x").task == "cyclegan"
    assert TrainConfig(out="x").task is None  # the GAN generates from noise
    with pytest.raises(ConfigError, match="unknown domain_b 'bold'; choose one of thick, invert"):
        TrainConfig(method="cyclegan", domain_b="bold", out="x")
    with pytest.raises(ConfigError, match="'cyclegan' is trained by --method cyclegan, got method 'gan'"):
        TrainConfig(task="cyclegan", method="gan", out="x")
    from gankit.cli.train import add_parsers, config_from_args
    import argparse

    ap = argparse.ArgumentParser()
    add_parsers(ap.add_subparsers())
    for argv in (["train", "--task", "cyclegan"], ["train", "--method", "cyclegan"]):
        cfg = config_from_args(ap.parse_args(argv))
        assert (cfg.method, cfg.task) == ("cyclegan", "cyclegan")


@pytest.mark.parametrize("extra, names", [
    (["--domain-b", "bold"], ("'bold'", "thick, invert")),
    (["--dataset", "ring8"], ("ring8", "toy data")),
    (["--conditional"], ("--conditional",)),
    (["--labels-per-class", "3"], ("--labels-per-class",)),
    (["--loss", "wgan-gp"], ("wgan-gp", "gradient penalty")),
    (["--eval-every", "2"], ("--eval-every", "gankit evaluate")),
    (["--reuse-fake"], ("--reuse-fake",)),
    (["--d-steps", "2"], ("--d-steps",)),
    (["--method", "gan"], ("'cyclegan'", "--method cyclegan", "'gan'")),
])
def test_bad_cyclegan_settings_are_one_line(capsys, tmp_path, extra, names):
    refused(capsys, ["train", "--task", "cyclegan", "--steps", "2", "--no-progress", "--out", str(tmp_path / "r"),
                     *extra], *names)
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------- a trained run
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cyclegan") / "run"
    gankit.train(TrainConfig(**TINY, out=str(out)))
    return out


def test_run_directory_snapshot_rows_and_checkpoint(run):
    tensors, meta = ckpt.load(ckpt.resolve(run))
    assert {k.split("/")[0] for k in tensors if "/" in k} >= {"G_ab", "G_ba", "D_a", "D_b", "opt_G", "opt_D"}
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["method"], cfg["task"], cfg["domain_b"]) == ("cyclegan", "cyclegan", "thick")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"Loss/cycle", "Loss/G_adv", "Loss/D_a", "Loss/D_b"} <= set(rows[-1])
    with Image.open(run / "samples" / "step_0000006.png") as im:
        w, h = im.size
    # SHOW images per row, six rows (A, G_ab(A), cycle; B, G_ba(B), cycle) of 56-pixel tiles with 2-pixel gaps
    assert (w // 58, h // 58) == (SHOW, 6)


def test_load_translates_both_ways_and_does_not_sample(run):
    G = gankit.load(run)
    x = as_float(load_dataset("mnist5k", compact=True).x[:5])
    t = G.extra_net("translate")(x)
    assert t.shape == (5, 1, 28, 28) and torch.isfinite(t).all()
    assert G.extra_net("translate_back")(t).shape == (5, 1, 28, 28)
    tensors, _ = ckpt.load(ckpt.resolve(run))
    fresh = ResnetTranslator((1, 28, 28), 4, 2)
    ckpt.unpack_module("G_ab", fresh, tensors, run)
    with torch.no_grad():
        assert torch.equal(fresh(x), t)  # the checkpoint's G_ab, not a fresh network
        assert torch.equal(G.net(x), t)  # the sampling network is G_ab too
    with pytest.raises(ConfigError, match="translates images and draws none from noise"):
        G.sample(2)


def test_evaluate_writes_the_translation_scores(run, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["evaluate", str(run), "--n", "40", "--json", str(out)]) == 0
    s = json.loads(out.read_text())
    for key in ("cycle_l1", "translated_label_accuracy", "translated_fid", "reference_label_accuracy",
                "reference_fid", "l1_to_truth"):
        assert isinstance(s[key], float), key
    assert 0 <= s["translated_label_accuracy"] <= 1 and s["protocol"]["n_translated"] == 40
    assert s["reference_label_accuracy"] > 0.8  # the classifier reads true thick digits
    refused(capsys, ["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")],
            "translates images")
    refused(capsys, ["evaluate", str(run), "--cas"], "--cas")
    refused(capsys, ["sample", str(run), "--out", str(tmp_path / "s.png")], "translates images")
    assert not (tmp_path / "s.png").exists()


def test_info_names_the_task(run, capsys):
    assert main(["info", str(run)]) == 0
    assert "task         cyclegan (--method cyclegan)" in capsys.readouterr().out


def test_doctor_reads_a_cyclegan_run(run, capsys):
    assert main(["doctor", str(run)]) == 0
    assert "gankit doctor" in capsys.readouterr().out


def test_resume_extends_a_run_bit_identically(tmp_path):
    straight = gankit.train(TrainConfig(**TINY, out=str(tmp_path / "straight")))
    gankit.train(TrainConfig(**{**TINY, "steps": 3}, out=str(tmp_path / "part")))
    resumed = gankit.resume(tmp_path / "part", steps=6)
    a, _ = ckpt.load(straight.checkpoint)
    b, _ = ckpt.load(resumed.checkpoint)
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
