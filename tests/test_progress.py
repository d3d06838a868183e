"""Progress bars of the long verbs: drawn only when asked (a terminal without --no-progress), silent otherwise."""

from __future__ import annotations

import io
import sys

import pytest
import torch

from gankit import progress
from gankit.cli import build_parser
from gankit.evaluation.classifier import train_classifier
from gankit.evaluation.parzen import parzen_log_likelihoods


def test_bars_are_silent_unless_shown(capsys):
    assert not progress.enabled()
    with progress.bar(3, "x") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
    with progress.shown(True):
        assert progress.enabled()
        with progress.shown(False):
            assert not progress.enabled()
        assert progress.enabled()
    assert not progress.enabled()


def test_a_shown_bar_reports_the_time_left(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    x = torch.rand(20, 4, dtype=torch.float64)
    with progress.shown(True):
        parzen_log_likelihoods(x, x, (0.1,))
    text = err.getvalue()
    assert "Parzen window" in text and "<" in text  # tqdm's "elapsed<remaining"


def test_classifier_training_counts_every_batch(monkeypatch):
    seen: list[int] = []

    class Count:
        def update(self, n: int = 1) -> None:
            seen.append(n)

        def close(self) -> None:
            seen.append(-1)

    monkeypatch.setattr(progress, "bar", lambda total, desc, unit="it": (seen.append(total), Count())[1])
    x, y = torch.rand(40, 1, 28, 28) * 2 - 1, torch.arange(40) % 10
    train_classifier(x, y, x, y, epochs=2, batch_size=16, log=None)
    assert seen[0] == 2 * 3 and seen[1:] == [1] * 6 + [-1]  # 2 epochs of ceil(40 / 16) batches, then closed


@pytest.mark.parametrize("verb", [["evaluate", "--real", "--dataset", "mnist5k"], ["train-classifier", "--dataset",
                                  "mnist", "--out", "c.safetensors"], ["explain", "optimal-d", "--out", "o"],
                                  ["attack", "--dataset", "mnist"]])
def test_long_verbs_take_no_progress(verb):
    args = build_parser().parse_args([*verb, "--no-progress"])
    assert args.no_progress is True


@pytest.mark.parametrize("terminal,flags,drawn", [(True, [], True), (True, ["--no-progress"], False),
                                                  (False, [], False)])
def test_main_draws_bars_for_long_verbs_only_on_a_terminal(monkeypatch, terminal, flags, drawn):
    import gankit.cli as cli

    seen: list[bool] = []
    monkeypatch.setattr(progress, "on_terminal", lambda: terminal)
    monkeypatch.setattr("gankit.evaluation.commands.cmd_evaluate", lambda args: seen.append(progress.enabled()))
    parser = cli.build_parser()  # built after the patch, so the verb calls the stand-in
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["evaluate", "--real", "--dataset", "mnist5k", *flags]) == 0
    assert seen == [drawn]


def test_train_draws_only_its_own_bar(monkeypatch):
    import gankit.cli as cli

    monkeypatch.setattr(progress, "on_terminal", lambda: True)
    args = cli.build_parser().parse_args(["train", "--steps", "1"])
    assert not getattr(args, "draws_bars", False)  # train's bar is its config's `progress`

