"""Paired image-to-image translation (--method pix2pix, --task ...): the tasks' pairs, the U-Net and PatchGAN, the
L1-only network of --adv-weight 0, snapshots, gankit.load(run).translate and `gankit translate`, the task scores of
`gankit evaluate`, coloured-mnist, and the refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers import refused

import gankit
from gankit import checkpoint as ckpt
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.data.tasks import CENTRE, get_task, hole_masks, luminance, sobel_edges, task_names
from gankit.errors import ConfigError
from gankit.evaluation.paired import colour_error, masked_l1, psnr, ssim
from gankit.methods import build_method
from gankit.models.patchgan import PatchDiscriminator
from gankit.models.unet import UNet

TINY = dict(dataset="mnist5k", method="pix2pix", width=8, d_width=8, steps=4, batch_size=8, log_every=2,
            sample_every=2, ckpt_every=2, progress=False, health=False)


def _cfg(out, **kw):
    return TrainConfig(**{**TINY, **kw}, out=str(out))


def _digits(n=6, seed=0):
    return (load_dataset("mnist5k", n=n, seed=seed).x).clone()  # [n, 1, 28, 28] in [-1, 1]


# ------------------------------------------------------------------------------------------------ tasks
@pytest.mark.parametrize("name,shape", [("edges", (1, 28, 28)), ("superres4", (1, 7, 7)), ("superres2", (1, 14, 14)),
                                        ("inpaint", (2, 28, 28))])
def test_each_task_makes_its_input_from_the_target(name, shape):
    x = _digits()
    t = get_task(name)
    u = torch.rand(len(x), t.uniforms) if t.uniforms else None
    inp, target = t.make(x, u)
    assert tuple(inp.shape[1:]) == shape == t.input_shape((1, 28, 28)) and torch.equal(target, x)
    assert torch.equal(t.make(x, u)[0], inp)  # a pure function of (target, u)
    assert tuple(t.condition(inp).shape[1:]) == (shape[0], 28, 28)


def test_edges_are_binary_outlines_and_superres_is_the_block_mean():
    x = _digits()
    e = sobel_edges(x)
    assert set(e.unique().tolist()) == {-1.0, 1.0}
    assert float((e > 0).float().mean()) < 0.4  # outlines, not the whole image
    flat = torch.full((1, 1, 28, 28), 0.3)
    assert bool((sobel_edges(flat) == -1).all())  # no edge in a flat image
    small, _ = get_task("superres4").make(x)
    assert torch.allclose(small[0, 0, 2, 3], x[0, 0, 8:12, 12:16].mean())


def test_inpaint_holes_centre_for_evaluation_random_rectangles_in_training():
    centre = hole_masks(3, 28, None, torch.device("cpu"))
    assert centre.sum().item() == 3 * CENTRE * CENTRE and centre[0, 0, 7:21, 7:21].all()
    u = torch.rand(400, 5, generator=torch.Generator().manual_seed(0))
    m = hole_masks(400, 28, u)
    sizes = m.flatten(1).sum(1)
    rect = u[:, 0] >= 0.5
    assert bool((sizes[~rect] == CENTRE * CENTRE).all())
    assert sizes[rect].min() >= 49 and sizes[rect].max() <= 256 and len(sizes[rect].unique()) > 10
    inp, _ = get_task("inpaint").make(_digits(400), u)
    assert torch.equal(inp[:, 1:], m) and bool((inp[:, :1][m.bool()] == 0).all())


def test_colorize_input_is_the_luminance():
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    inp, _ = get_task("colorize").make(x)
    assert torch.allclose(inp[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], atol=1e-6)
    assert luminance(x[:, :1]) is not None and tuple(task_names()) == ("edges", "superres4", "superres2", "inpaint",
                                                                       "colorize")


def test_inpaint_user_input_mask_nan_and_which_wins():
    t = get_task("inpaint")
    x = _digits(2)
    m = torch.zeros(28, 28)
    m[5:10, 5:10] = 1
    a = t.user_input(x, m, (1, 28, 28))  # one [H, W] mask for every image
    assert torch.equal(a[:, 1], m.expand(2, 28, 28)) and bool((a[:, 0][:, 5:10, 5:10] == 0).all())
    xn = x.clone()
    xn[:, :, 5:10, 5:10] = float("nan")
    assert torch.equal(t.user_input(xn, None, (1, 28, 28)), a)  # NaN marks the same pixels
    assert torch.equal(t.user_input(xn, m[None].expand(2, 28, 28), (1, 28, 28)), a)  # NaN inside the mask: fine
    bigger = torch.zeros(28, 28)
    bigger[0:12, 0:12] = 1
    assert t.user_input(xn, bigger, (1, 28, 28))[:, 1].sum() == 2 * 144  # the mask wins over the NaN
    with pytest.raises(ConfigError, match="NaN outside the mask"):
        t.user_input(xn, torch.zeros(28, 28), (1, 28, 28))
    with pytest.raises(ConfigError, match="missing pixels"):
        t.user_input(x, None, (1, 28, 28))
    with pytest.raises(ConfigError, match="does not match"):
        t.user_input(x, torch.zeros(32, 32), (1, 28, 28))
    with pytest.raises(ConfigError, match="does not match"):
        t.user_input(x, torch.zeros(3, 1, 28, 28), (1, 28, 28))
    with pytest.raises(ConfigError, match="0 .kept. or 1"):
        t.user_input(x, torch.full((28, 28), 0.5), (1, 28, 28))
    with pytest.raises(ConfigError, match=r"\[N, 1, 28, 28\]"):
        t.user_input(x[:, :, :14, :14], None, (1, 28, 28))


# ------------------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("name", ["edges", "superres4", "superres2", "inpaint"])
def test_unet_maps_the_task_input_to_a_28x28_image(name):
    cfg = TrainConfig(**{**TINY, "task": name}, out="unused").resolved()
    t = get_task(name)
    from gankit.methods.pix2pix import translator

    net = translator(cfg, (1, 28, 28)).eval()
    inp, target = t.make(_digits(3), torch.rand(3, t.uniforms) if t.uniforms else None)
    with torch.no_grad():
        out = net(inp)
    assert out.shape == target.shape and float(out.abs().max()) <= 1
    if name == "inpaint":  # the known pixels come through exactly
        keep = inp[:, 1:] == 0
        assert torch.equal(out[keep], target[keep])
    d = PatchDiscriminator(inp.shape[1], 1, width=8)
    assert d(t.condition(inp), out).shape == (3, 49)


def test_unet_rejects_sizes_that_do_not_divide_28():
    with pytest.raises(ValueError):
        UNet(1, 1, in_size=10)


# ------------------------------------------------------------------------------------------------ method
def test_adv_weight_zero_is_the_same_g_without_d():
    data = load_dataset("mnist5k")
    gan = build_method(_cfg("unused", task="edges").resolved(), data)
    l1 = build_method(_cfg("unused", task="edges", adv_weight=0.0).resolved(), data)
    assert set(gan.build()) == {"G", "D"} and set(l1.build()) == {"G"}
    assert [p.name for p in gan.phases()] == ["D", "G"] and [p.name for p in l1.phases()] == ["G"]
    assert not gan.phases()[1].takes_batch and l1.phases()[0].takes_batch  # G: D's batch, or its own
    torch.manual_seed(0)
    g1 = gan.build()["G"]
    torch.manual_seed(0)
    g0 = l1.build()["G"]
    assert all(torch.equal(a, b) for a, b in zip(g1.state_dict().values(), g0.state_dict().values()))


@pytest.mark.parametrize("task", ["edges", "inpaint"])
def test_trains_snapshots_triptychs_and_translates(tmp_path, task):
    res = gankit.train(_cfg(tmp_path / "r", task=task))
    png = res.out / "samples" / "step_0000004.png"
    from PIL import Image

    assert Image.open(png).size == (12 * 60 + 4, 6 * 60 + 4)  # 24 triptychs, 4 a row: tiles 56 px, gaps 4 px
    G = gankit.load(res.out)
    t = get_task(task)
    inp, target = t.make(_digits(5), torch.zeros(5, t.uniforms) if t.uniforms else None)
    if task == "inpaint":
        x = target.clone()
        x[inp[:, 1:].expand_as(x).bool()] = float("nan")
        y = G.translate(x)
        assert torch.equal(y, G.translate(target, mask=inp[:, 1:]))  # NaN and mask say the same holes
    else:
        y = G.translate(inp)
    assert y.shape == (5, 1, 28, 28) and bool(torch.isfinite(y).all())
    with pytest.raises(ConfigError, match="translates images"):
        G.sample(4)
    with pytest.raises(ConfigError):
        G.translate(torch.zeros(5, 3, 28, 28))


def test_snapshot_grid_is_input_output_target(tmp_path):
    """The snapshot's columns 0 and 2 of each triptych are the held-out input and target, drawn as they are."""
    from gankit.methods.pix2pix import held_out_images, triptychs

    res = gankit.train(_cfg(tmp_path / "r", task="superres4", steps=2))
    cfg = TrainConfig.from_dict(json.loads((res.out / "config.json").read_text()))
    data = load_dataset("mnist5k")
    target = held_out_images(cfg, data, 4)
    assert torch.equal(target, data.x[-4:])  # mnist5k has no test split: its last images
    inp, _ = get_task("superres4").make(target)
    trip = triptychs(get_task("superres4").display(inp, 1), torch.zeros_like(target), target)
    assert torch.equal(trip[2::3], target) and bool((trip[1::3] == 0).all()) and trip.shape == (12, 1, 28, 28)


def test_snapshot_images_are_the_test_split_where_there_is_one(shared_data):
    from gankit.methods.pix2pix import held_out_images

    cfg = TrainConfig(**{**TINY, "dataset": "mnist", "data_dir": str(shared_data), "task": "edges"}, out="unused")
    train = load_dataset("mnist", data_dir=shared_data, n=100, compact=True)
    test = load_dataset("mnist", split="test", data_dir=shared_data)
    assert torch.equal(held_out_images(cfg, train, 4), test.x[:4])


def test_resume_continues_bit_identically(tmp_path):
    """4 steps straight == 2 steps, then resumed to 4 (inpaint: the holes come from the checkpointed stream)."""
    full = gankit.train(_cfg(tmp_path / "a", task="inpaint"))
    gankit.train(_cfg(tmp_path / "b", task="inpaint", steps=2))
    part = gankit.resume(tmp_path / "b", steps=4)
    a, b = ckpt.load(ckpt.resolve(full.out))[0], ckpt.load(ckpt.resolve(part.out))[0]
    assert set(a) == set(b) and any(k.startswith("D/") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_the_adversarial_term_changes_g():
    """Same seed and batches: the GAN's G and the L1-only G part ways (the term is live; Adam's first step moves each
    weight by lr * sign(gradient), which the small adversarial term rarely flips, so a few steps); the L1-only G
    does not depend on D's settings (no D is built)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        w1 = ckpt.load(ckpt.resolve(gankit.train(_cfg(f"{d}/1", task="edges", steps=3, ckpt_every=3)).out))[0]
        w0 = ckpt.load(ckpt.resolve(gankit.train(_cfg(f"{d}/0", task="edges", steps=3, ckpt_every=3,
                                                       adv_weight=0.0)).out))[0]
        w00 = ckpt.load(ckpt.resolve(gankit.train(_cfg(f"{d}/00", task="edges", steps=3, ckpt_every=3,
                                                        adv_weight=0.0, d_width=16)).out))[0]
    assert not torch.equal(w1["G/out.weight"], w0["G/out.weight"])
    assert torch.equal(w0["G/out.weight"], w00["G/out.weight"]) and "D/net.0.weight" not in w0


# ------------------------------------------------------------------------------------------------ metrics
def test_metrics_on_known_images():
    a = torch.rand(4, 1, 28, 28) * 2 - 1
    assert psnr(a, a) == pytest.approx(100.0) and ssim(a, a) == pytest.approx(1.0)
    b = (a + 0.2).clamp(-1, 1)
    assert ssim(a, b) < 1.0
    c = torch.full((2, 1, 28, 28), -1.0)
    d = c.clone()
    d[:, :, :7] = 1.0  # a quarter of the pixels off by the full range
    assert psnr(c, d) == pytest.approx(10 * math.log10(4))
    m = torch.zeros(2, 1, 28, 28)
    m[:, :, :14] = 1
    assert masked_l1(c, d, m) == pytest.approx(0.5)
    rgb_a, rgb_b = torch.full((1, 3, 4, 4), -1.0), torch.full((1, 3, 4, 4), -1.0)
    rgb_b[:, 0] = 1.0
    assert colour_error(rgb_a, rgb_b) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ coloured-mnist
def test_coloured_mnist_is_fixed_three_channels_and_legible_in_grey(shared_data):
    a = load_dataset("coloured-mnist", split="test", data_dir=shared_data, n=200, seed=1)
    b = load_dataset("coloured_mnist", split="test", data_dir=shared_data, n=200, seed=1)
    grey = load_dataset("mnist", split="test", data_dir=shared_data, n=200, seed=1)
    assert a.x.shape == (200, 3, 28, 28) and torch.equal(a.x, b.x) and torch.equal(a.y, grey.y)
    lum = luminance(a.x)
    ink, bg = grey.x > 0.9, grey.x < -0.99
    assert float(lum[ink].min()) > float(lum[bg].max()) - 1e-3  # strokes always lighter than backgrounds
    colours = a.x[:, :, 0, 0]  # a corner pixel: the background colour
    assert len(colours.unique(dim=0)) > 190  # a colour per image
    with pytest.raises(ConfigError, match="3 channels"):
        load_dataset("coloured-mnist", data_dir=shared_data, channels=1)


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def edge_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p") / "edges"
    gankit.train(_cfg(out, task="edges"))
    return out


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p") / "inpaint"
    gankit.train(_cfg(out, task="inpaint"))
    return out


def test_translate_cli_npy_and_png(edge_run, tmp_path):
    e, _ = get_task("edges").make(_digits(3))
    np.save(tmp_path / "e.npy", ((e[:, 0].numpy() + 1) * 127.5).astype(np.uint8))  # uint8 [N, H, W]
    e_npy = str(tmp_path / "e.npy")
    assert main(["translate", str(edge_run), "--images", e_npy, "--out", str(tmp_path / "o.npy")]) == 0
    y = np.load(tmp_path / "o.npy")
    assert y.shape == (3, 1, 28, 28) and y.dtype == np.float32
    assert np.allclose(y, gankit.load(edge_run).translate(e).numpy(), atol=1e-6)
    assert main(["translate", str(edge_run), "--images", e_npy, "--out", str(tmp_path / "o.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "o.png").size == (6 * 60 + 4, 60 + 4)  # input | output pairs


def test_translate_cli_inpaint_mask_and_nan(inpaint_run, tmp_path):
    x = _digits(2)
    m = np.zeros((28, 28), np.uint8)
    m[7:21, 7:21] = 1
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "m.npy", m)
    xn = x.numpy().copy()
    xn[:, :, 7:21, 7:21] = np.nan
    np.savez(tmp_path / "xn.npz", images=xn)
    main(["translate", str(inpaint_run), "--images", str(tmp_path / "x.npy"), "--mask", str(tmp_path / "m.npy"),
          "--out", str(tmp_path / "a.npy")])
    main(["translate", str(inpaint_run), "--images", str(tmp_path / "xn.npz"), "--out", str(tmp_path / "b.npy")])
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert np.array_equal(a, b) and np.array_equal(a[:, :, :7], x.numpy()[:, :, :7])


def test_translate_refusals(edge_run, inpaint_run, tmp_path, capsys):
    np.save(tmp_path / "small.npy", np.zeros((2, 14, 14), np.uint8))
    np.save(tmp_path / "rgb.npy", np.zeros((2, 3, 28, 28), np.float32))
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 28, 28), np.float32))
    np.save(tmp_path / "m32.npy", np.zeros((32, 32), np.uint8))
    out = str(tmp_path / "o.npy")
    for bad in ("small.npy", "rgb.npy"):  # the wrong size, the wrong channel count
        refused(capsys, ["translate", str(edge_run), "--images", str(tmp_path / bad), "--out", out], "[N, 1, 28, 28]")
    refused(capsys, ["translate", str(edge_run), "--images", str(tmp_path / "x.npy"), "--mask",
                     str(tmp_path / "m32.npy"), "--out", out], "--mask", "inpaint")
    refused(capsys, ["translate", str(inpaint_run), "--images", str(tmp_path / "x.npy"), "--mask",
                     str(tmp_path / "m32.npy"), "--out", out], "does not match")
    refused(capsys, ["translate", str(inpaint_run), "--images", str(tmp_path / "x.npy"), "--out", out],
            "missing pixels")
    refused(capsys, ["translate", str(edge_run), "--images", str(tmp_path / "none.npy"), "--out", out], "no such")
    refused(capsys, ["translate", str(edge_run), "--images", str(tmp_path / "x.npy"), "--out",
                     str(tmp_path / "o.txt")], ".npy or .png")
    refused(capsys, ["sample", str(edge_run), "--out", str(tmp_path / "s.png")], "translate")
    assert not (tmp_path / "o.npy").exists()


def test_translate_needs_a_translator(tmp_path, capsys):
    res = gankit.train(TrainConfig(dataset="mnist5k", model="mlp", width=8, z_dim=4, steps=1, batch_size=8,
                                   progress=False, health=False, out=str(tmp_path / "gan")))
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 28, 28), np.float32))
    refused(capsys, ["translate", str(res.out), "--images", str(tmp_path / "x.npy"), "--out",
                     str(tmp_path / "o.npy")], "pix2pix")


@pytest.mark.parametrize("flags,words", [
    (["--task", "edges", "--dataset", "ring8"], ["toy"]),
    (["--task", "colorize", "--dataset", "mnist5k"], ["coloured-mnist"]),
    (["--task", "edges", "--image-size", "32"], ["28x28"]),
    (["--method", "pix2pix"], ["--task"]),
    (["--task", "edges", "--method", "gan"], ["pix2pix"]),
    (["--task", "edges", "--adv-weight", "-1"], ["adv_weight"]),
])
def test_bad_task_settings_are_one_line(flags, words, tmp_path, capsys):
    out = tmp_path / "run"
    refused(capsys, ["train", "--steps", "2", "--batch-size", "8", "--width", "8", "--no-progress", "--out", str(out),
                     *flags], *words)
    assert not (out / "config.json").exists()


def test_evaluate_reports_the_task_scores(edge_run, shared_data, tmp_path, capsys):
    # the run trained on mnist5k: its held-out reference is the MNIST test split
    j = tmp_path / "s.json"
    assert main(["evaluate", str(edge_run), "--n", "300", "--data-dir", str(shared_data), "--json", str(j)]) == 0
    s = json.loads(j.read_text())
    assert {"fid", "accuracy", "l1", "psnr", "ssim"} <= set(s) and 0 <= s["accuracy"] <= 1
    assert s["protocol"]["task"] == "edges" and s["protocol"]["n"] == 300


@pytest.mark.parametrize("task", ["superres4", "inpaint"])
def test_onnx_export_of_the_translator(task, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from gankit.export import export_generator

    run = gankit.train(_cfg(tmp_path / "r", task=task, steps=2)).out
    path = export_generator(run, format="onnx", out=tmp_path / "t.onnx")  # checked against PyTorch inside
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    G = gankit.load(run)
    t = get_task(task)
    x, _ = t.make(_digits(3), torch.rand(3, t.uniforms) if t.uniforms else None)
    assert inp.name == "images" and tuple(inp.shape[1:]) == tuple(x.shape[1:])
    got = session.run(["samples"], {"images": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - G.extra_net("translate")(x).numpy()).max() < 1e-4


def test_doctor_and_info_read_a_translation_run(edge_run, capsys):
    assert main(["doctor", str(edge_run)]) == 0
    assert "healthy" in capsys.readouterr().out
    assert main(["info", str(edge_run)]) == 0
    assert "task         edges (--method pix2pix), adv_weight 1.0, recon_weight 100.0" in capsys.readouterr().out
