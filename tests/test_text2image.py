"""Text to image (--method text2image): measured attributes and captions, the matching-aware D's three pairs, the
caption encoder, sampling from --text (unknown words refused), evaluate and resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import captions as C
from gankit.data import load_dataset
from gankit.distributed import BatchShard
from gankit.errors import ConfigError
from gankit.evaluation.captions import caption_scores
from gankit.methods import Batch, Draws, StepContext, build_method
from gankit.models.text import TextEncoder
from gankit.stats import Stats
from helpers import refused

TINY = dict(dataset="mnist5k", method="text2image", width=8, d_width=8, z_dim=6, steps=6, batch_size=16,
            log_every=3, sample_every=6, ckpt_every=3, progress=False, health=False)


def _stroke(width: int, lean: int = 0) -> torch.Tensor:
    """A vertical bar `width` pixels wide, its top shifted `lean` pixels right of its bottom.  # [1, 1, 28, 28]"""
    img = -torch.ones(1, 1, 28, 28)
    for r in range(4, 24):
        c = 12 + round(lean * (23 - r) / 19)
        img[0, 0, r, c:c + width] = 1.0
    return img


# ----------------------------------------------------------------------------------------------- attributes


def test_thickness_is_the_stroke_width():
    assert C.thickness(_stroke(2)).item() == pytest.approx(2 * 40 / 40)  # every ink pixel is on the boundary
    assert C.thickness(_stroke(4)).item() == pytest.approx(2 * 80 / (80 - 2 * 18), rel=1e-6)
    assert C.thickness(_stroke(6)) > C.thickness(_stroke(3))


def test_slant_sign_and_size():
    assert C.slant(_stroke(3)).item() == pytest.approx(0.0, abs=1e-6)
    right, left = C.slant(_stroke(3, lean=6)).item(), C.slant(_stroke(3, lean=-6)).item()
    assert right == pytest.approx(6 / 19, rel=0.1) and left == pytest.approx(-right, rel=1e-5)


def test_darkness_is_the_mean_object_intensity():
    img = -torch.ones(1, 1, 28, 28)
    img[0, 0, 5:10, 5:10] = 0.0  # intensity 0.5 on [0, 1]
    assert C.darkness(img).item() == pytest.approx(0.5)


def test_caption_levels_split_the_training_data_in_thirds():
    x = load_dataset("mnist5k").x
    for name, fn in (("thickness", C.thickness), ("slant", C.slant)):
        counts = torch.bincount(C.level(fn(x), name), minlength=3).double() / len(x)
        assert all(0.25 < c < 0.42 for c in counts), (name, counts)


def test_captions_and_tokens():
    assert C.caption("mnist", 7, {"thickness": 2, "slant": 0}) == "a thick seven slanting left"
    assert C.caption("mnist", 8, {"thickness": 1, "slant": 1}) == "an eight standing upright"
    assert C.caption("mnist", 2, {"thickness": 0, "slant": 2}, {"slant": False}) == "a thin two"
    assert C.caption("fashion-mnist", 9, {"darkness": 0}) == "a dark ankle boot"
    assert C.caption("fashion-mnist", 9, {"darkness": 1}) == "an ankle boot"
    assert C.caption("mnist", 1, {"thickness": 1, "slant": 1}, {"slant": False}) == "a one"
    t = C.tokenize(["a thin two", "an ankle boot"])
    assert t.shape == (2, C.MAX_WORDS) and t[0, 3:].eq(0).all() and t[0, 2] == C.WORD_ID["two"]
    with pytest.raises(ConfigError, match="'purple', 'dragon'"):
        C.tokenize(["a purple dragon"])


def test_encoder_reads_the_caption_up_to_its_last_word():
    enc = TextEncoder(len(C.VOCAB), 8)
    t = C.tokenize(["a thin two", "a thin two slanting left"])
    padded = torch.cat([t[:1, :3], torch.full((1, 5), 0)], dim=1)  # more padding changes nothing
    assert torch.allclose(enc(t[:1]), enc(padded)) and not torch.allclose(enc(t[:1]), enc(t[1:]))


# ----------------------------------------------------------------------------------------------- the objective


class PairSpy(nn.Module):
    def __init__(self, answers):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.answers, self.calls = answers, []

    def forward(self, x, tokens):
        self.calls.append((x.detach().clone(), tokens.clone()))
        return torch.full((len(x),), self.answers[len(self.calls) - 1]) + 0 * self.w


def test_d_scores_matching_fake_and_mismatched_pairs():
    cfg = TrainConfig(**TINY, out="unused").resolved()
    data = load_dataset("mnist5k", n=64)
    method = build_method(cfg, data)
    nets = method.build()
    nets["D"] = PairSpy([1.0, -0.5, 0.25])
    draws = Draws(torch.Generator().manual_seed(3), BatchShard(4, 0, 1), torch.device("cpu"), "gaussian")
    ctx = StepContext(0, 0, nets, nets, nets, draws, Stats())
    x, y = data.x[:4], data.y[:4]
    loss = method.loss(method.phases()[0], Batch(x, y), ctx)
    (x1, t1), (x2, t2), (x3, t3) = nets["D"].calls
    assert torch.equal(x1, x) and torch.equal(x3, x) and not torch.equal(x2, x)  # real, fake, real
    assert torch.equal(t2, t1) and torch.equal(t3, t1.roll(1, dims=0))  # own captions; then the neighbour's
    words = [" ".join(C.VOCAB[i] for i in row if i) for row in t1.tolist()]
    digits = [C.DIGITS[int(v)] for v in y]
    assert all(d in w.split() for d, w in zip(digits, words))  # each caption names its image's class
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    expected = 0.5 * (sp(-1.0) + sp(-0.5)) + 0.5 * (sp(-1.0) + sp(0.25))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_caption_scores_by_hand():
    labels = torch.tensor([1, 2, 3, 4])
    probs = torch.nn.functional.one_hot(torch.tensor([1, 2, 0, 4]), 10).double()
    fake = torch.cat([_stroke(2), _stroke(2), _stroke(6), _stroke(6)])  # thin, thin, thick, thick
    levels = {"thickness": torch.tensor([0, 1, 2, 0]), "slant": torch.tensor([1, 1, 1, 1])}
    s = caption_scores(fake, labels, levels, probs, "mnist", torch.tensor([1, 2, 3, 0]))
    assert s["class_agreement"] == 0.75 and s["class_agreement_control"] == 0.0
    # named thickness: rows 0 (thin: measured thin), 2 (thick: thick), 3 (thin: measured thick) -> 2 of 3
    assert s["thickness_agreement"] == pytest.approx(2 / 3)
    assert s["slant_agreement"] == 1.0  # upright bars, every caption upright


# ----------------------------------------------------------------------------------------------- runs


def test_run_samples_from_text_refuses_unknown_words_and_evaluates(tmp_path, capsys):
    out = tmp_path / "t2i"
    gankit.train(TrainConfig(**TINY, out=str(out)))
    assert (out / "samples" / "step_0000006.png").stat().st_size > 0
    assert main(["sample", str(out), "--text", "a thin two", "--text", "a thick seven slanting left", "--n", "4",
                 "--out", str(tmp_path / "g.png"), "--npy", str(tmp_path / "g.npy"), "--seed", "1"]) == 0
    assert np.load(tmp_path / "g.npy").shape == (8, 1, 28, 28)
    refused(capsys, ["sample", str(out), "--text", "a purple two", "--text", "a wobbly dragon"], "'purple'",
            "'wobbly'", "'dragon'")
    refused(capsys, ["sample", str(out)], "--text")  # a caption is what it draws from
    from gankit.evaluation.evaluate import evaluate_run

    s = evaluate_run(out, n=100)
    for key in ("class_agreement", "thickness_agreement", "slant_agreement"):
        assert 0 <= s[key] <= 1 and 0 <= s[key + "_control"] <= 1
    assert s["real_class_agreement"] > 0.9


def test_text_on_other_runs_is_refused(tmp_path, capsys):
    out = tmp_path / "gan"
    gankit.train(TrainConfig(dataset="mnist5k", model="mlp", width=8, steps=2, batch_size=8, progress=False,
                             health=False, out=str(out)))
    refused(capsys, ["sample", str(out), "--text", "a thin two"], "text2image")


def test_resume_is_bit_identical(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    gankit.train(TrainConfig(**TINY, out=str(full)))
    gankit.train(TrainConfig(**{**TINY, "steps": 3}, out=str(part)))
    gankit.resume(part, steps=6)
    a, b = gankit.load(full, ema=False), gankit.load(part, ema=False)
    for p, q in zip(a.net.state_dict().values(), b.net.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("flags, words", [
    (["--dataset", "ring8"], ["ring8"]),
    (["--conditional"], ["--conditional"]),
    (["--loss", "wgan-gp"], ["wgan-gp"]),
    (["--image-size", "32"], ["28x28"]),
])
def test_refusals_are_one_line(tmp_path, capsys, flags, words):
    refused(capsys, ["train", "--method", "text2image", "--dataset", "mnist5k", "--steps", "2", "--out",
                     str(tmp_path / "x"), *flags], *words)
