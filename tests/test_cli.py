"""The command line end to end, on tiny settings, through `python -m gankit` as a user would run it."""

import json

import numpy as np
import pytest
from helpers import gk
from PIL import Image


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cond"
    r = gk("train", "--dataset", "mnist5k", "--model", "dcgan", "--width", "8", "--conditional", "--steps", "6",
           "--batch-size", "16", "--log-every", "3", "--sample-every", "3", "--ckpt-every", "3", "--seed", "1",
           "--no-progress", "--out", out)
    assert str(out) in r.stdout  # every run says where its outputs went
    return out


def test_help_for_every_verb():
    top = gk("--help").stdout
    for verb in ("train", "sample", "interpolate", "info", "evaluate", "train-classifier"):
        assert verb in top
        assert "usage" in gk(verb, "--help").stdout
    train_help = gk("train", "--help").stdout
    for flag in ("--dataset", "--model", "--loss", "--steps", "--batch-size", "--seed", "--out", "--conditional",
                 "--data-dir", "--resume", "--d-steps", "--label-smoothing", "--instance-noise", "--prior", "--depth"):
        assert flag in train_help
    recipes = " ".join(train_help.split("Default recipes", 1)[1].split())  # argparse wraps the epilog
    assert "grid25: depth=3, steps=16000" in recipes and "classic 32/32" in recipes


def test_train_writes_run_dir(cond_run):
    for name in ("config.json", "metrics.jsonl", "progress.gif", "losses.png", "samples/step_0000006.png"):
        assert (cond_run / name).exists(), name
    cfg = json.loads((cond_run / "config.json").read_text())
    assert cfg["conditional"] is True and cfg["model"] == "dcgan"


def test_sample_class_and_out_dir(cond_run, tmp_path):
    gk("sample", cond_run, "--n", "9", "--class", "7", "--out", tmp_path / "g.png", "--out-dir", tmp_path / "each",
       "--seed", "0", "--npy", tmp_path / "x.npy")
    assert Image.open(tmp_path / "g.png").size[0] > 28
    assert len(list((tmp_path / "each").glob("*.png"))) == 9
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (9, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


def test_sample_is_seeded(cond_run, tmp_path):
    for name in ("a", "b"):
        gk("sample", cond_run, "--n", "4", "--seed", "5", "--out", tmp_path / f"{name}.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_interpolate_png_and_gif(cond_run, tmp_path):
    gk("interpolate", cond_run, "--steps", "5", "--rows", "2", "--slerp", "--out", tmp_path / "w.png",
       "--gif", tmp_path / "w.gif", "--seed", "0")
    gif = Image.open(tmp_path / "w.gif")
    assert gif.n_frames == 8  # 5 there, 3 back
    assert Image.open(tmp_path / "w.png").size[0] > Image.open(tmp_path / "w.png").size[1]


def test_info(cond_run):
    out = gk("info", cond_run).stdout
    assert "dcgan" in out and "6 / 6 steps" in out
    assert json.loads(gk("info", cond_run, "--json").stdout)["config"]["seed"] == 1



def test_a_reader_that_goes_away_ends_the_verb_quietly(cond_run):
    """`gankit info RUN | head -0`: the pipe is closed before gankit writes; it stops with status 141 (as a
    SIGPIPE'd tool would report) and no traceback."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "gankit", "info", str(cond_run)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # before the interpreter has even imported gankit
    err = p.stderr.read().decode()
    assert p.wait() == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err

def test_toy_run_and_sample(tmp_path):
    out = tmp_path / "ring"
    gk("train", "--dataset", "ring8", "--model", "mlp", "--steps", "10", "--log-every", "5", "--no-progress",
       "--out", out)
    gk("sample", out, "--n", "500", "--out", tmp_path / "pts.png")
    assert (tmp_path / "pts.png").stat().st_size > 0


@pytest.mark.parametrize("args,needle", [
    (["train", "--dataset", "nope", "--out", "X"], "nope"),
    (["train", "--dataset", "ring8", "--model", "dcgan", "--steps", "2", "--out", "X"], "(2,)"),
    (["train", "--dataset", "swissroll", "--conditional", "--model", "mlp", "--steps", "2", "--out", "X"],
     "labels"),
    (["sample", "does/not/exist"], "does/not/exist"),
    (["train", "--config", "missing.json"], "missing.json"),
])
def test_bad_input_gives_one_line_error(tmp_path, args, needle):
    args = [str(tmp_path / a) if a in ("X",) else a for a in args]
    r = gk(*args, check=False)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error:") and needle in lines[0], r.stderr


def test_resume_rejects_other_flags(cond_run):
    r = gk("train", "--resume", cond_run, "--lr", "0.1", check=False)
    assert r.returncode == 2 and "--lr" in r.stderr


def test_json_means_the_same_on_every_verb(tmp_path, capsys):
    """--json PATH writes the verb's JSON to PATH and keeps the summary on stdout; a bare --json (or '-') prints
    only the JSON on stdout, the summary going to stderr; a folder is refused before any work."""
    from gankit.cli import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "4", "--batch-size", "16",
                 "--no-progress", "--out", str(run)]) == 0
    for verb in (["info", str(run)], ["doctor", str(run), "--no-plot"], ["evaluate", str(run), "--n", "200"]):
        capsys.readouterr()
        for bare in (["--json"], ["--json", "-"]):
            assert main([*verb, *bare]) in (0, 1)
            out = capsys.readouterr().out
            assert isinstance(json.loads(out), dict), (verb, out[:200])
        target = tmp_path / f"{verb[0]}.json"
        assert main([*verb, "--json", str(target)]) in (0, 1)
        out = capsys.readouterr().out
        assert isinstance(json.loads(target.read_text()), dict) and str(target) in out
        assert main([*verb, "--json", str(tmp_path)]) == 2
        assert "is a folder" in capsys.readouterr().err


def test_every_flag_of_every_verb_has_help_text():
    import argparse

    from gankit.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    walk(sub, [*path, name])
            elif not isinstance(a, argparse._HelpAction) and (not a.help or a.help == argparse.SUPPRESS):
                missing.append(f"{' '.join(path)} {'/'.join(a.option_strings) or a.dest}")

    walk(build_parser(), ["gankit"])
    assert not missing, missing
