"""`gankit evaluate --images`: any folder or .npy/.npz of 28x28 grey images scored like a run's samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import gk
from PIL import Image

import gankit
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.evaluation.evaluate import evaluate_images, evaluate_run, read_images

N = 300  # images scored per test: enough for FID to tell digits from noise, and fast


@pytest.fixture(scope="module")
def real_test(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """300 real MNIST test digits as uint8 [N, 28, 28] .npy, as a .npz with their labels, and as a PNG folder;
    and 300 noise images as .npy."""
    d = load_dataset("mnist", split="test", data_dir=shared_data, n=N, seed=0, compact=True)
    pixels = d.x[:, 0].numpy()  # [N, 28, 28] uint8
    root = tmp_path_factory.mktemp("images")
    np.save(root / "test.npy", pixels)
    np.savez(root / "test.npz", images=pixels, labels=d.y.numpy())
    (root / "png").mkdir()
    for i, img in enumerate(pixels):
        Image.fromarray(img, "L").save(root / "png" / f"{i:04d}.png")
    np.save(root / "noise.npy", np.random.default_rng(0).integers(0, 256, (N, 28, 28), dtype=np.uint8))
    return {"npy": root / "test.npy", "npz": root / "test.npz", "png": root / "png", "noise": root / "noise.npy"}


@pytest.fixture(scope="module")
def run_keys(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The top-level keys of `gankit evaluate RUN --json` (the dict `evaluate_run` returns, written as it is) for
    an untrained unconditional image run."""
    out = tmp_path_factory.mktemp("run") / "run"
    gankit.train(gankit.TrainConfig(steps=1, batch_size=16, width=8, out=str(out), progress=False))
    return set(evaluate_run(out, n=100))


@pytest.fixture(scope="module")
def real_scores(real_test, shared_data) -> dict:
    """The scores of the real test digits held in the .npy."""
    return evaluate_images(real_test["npy"], "mnist5k", data_dir=str(shared_data))


def test_npy_and_png_folder_score_alike_with_a_runs_keys(real_test, real_scores, shared_data, run_keys,
                                                         tmp_path) -> None:
    js = tmp_path / "png.json"
    r = gk("evaluate", "--images", real_test["png"], "--dataset", "mnist5k", "--data-dir", shared_data, "--json", js)
    assert "fid=" in r.stdout and str(real_test["png"]) in r.stdout
    png, npy = json.loads(js.read_text()), real_scores
    for s in (npy, png):
        assert set(s) == run_keys  # the same keys as a run's scores
        assert s["protocol"]["n_generated"] == N and s["protocol"]["conditional"] is False
        assert s["protocol"]["reference"] == "mnist5k train split" and s["memorisation"]["n_generated"] == N
    assert npy["fid"] == pytest.approx(png["fid"], rel=1e-9)  # the same pixels, whichever file holds them
    assert npy["protocol"]["images"] == str(real_test["npy"]) and npy["classes_present"] == 10


def test_real_digits_score_far_below_noise(real_test, real_scores, shared_data) -> None:
    real = real_scores
    noise = evaluate_images(real_test["noise"], "mnist5k", data_dir=str(shared_data))
    assert noise["fid"] > 20 * real["fid"] and real["precision"] > 0.7 > noise["precision"]


def test_npz_labels_give_label_accuracy(real_test, shared_data) -> None:
    s = evaluate_images(real_test["npz"], "mnist5k", data_dir=str(shared_data), n=200, seed=1)
    assert s["label_accuracy"] > 0.95 and s["protocol"]["conditional"] is True
    assert s["protocol"]["n_generated"] == 200  # --n: a seeded subset


def test_float_images_and_grey_stored_as_rgb_are_accepted(tmp_path) -> None:
    pixels = load_dataset("mnist5k", n=50, compact=True).x[:, 0].numpy()
    want, _ = read_images(_npy(tmp_path / "u8.npy", pixels), dataset="mnist")
    as_unit, _ = read_images(_npy(tmp_path / "f.npy", pixels.astype(np.float32) / 255), dataset="mnist")
    assert want.shape == (50, 1, 28, 28) and (as_unit - want).abs().max() < 1e-6
    rgb = np.repeat(pixels[..., None], 3, axis=3)  # [N, 28, 28, 3], equal channels
    got, _ = read_images(_npy(tmp_path / "rgb.npy", rgb), dataset="mnist")
    assert got.shape == want.shape and (got - want).abs().max() == 0
    (tmp_path / "png").mkdir()
    for i, img in enumerate(rgb[:5]):
        Image.fromarray(img, "RGB").save(tmp_path / "png" / f"{i}.png")
    got, labels = read_images(tmp_path / "png", dataset="mnist")
    assert got.shape == (5, 1, 28, 28) and (got - want[:5]).abs().max() == 0 and labels is None


def _npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_images_the_feature_networks_cannot_read_are_refused(tmp_path) -> None:
    with pytest.raises(DataError, match="images are 32x32") as e:
        read_images(_npy(tmp_path / "big.npy", np.zeros((4, 32, 32), np.uint8)), dataset="mnist")
    assert str(tmp_path / "big.npy") in str(e.value)
    colour = np.zeros((4, 28, 28, 3), np.uint8)
    colour[..., 0] = 200
    with pytest.raises(DataError, match="colour images"):
        read_images(_npy(tmp_path / "colour.npy", colour), dataset="mnist")
    (tmp_path / "png").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "png" / "a.png")
    Image.new("L", (30, 28)).save(tmp_path / "png" / "b.png")
    with pytest.raises(DataError, match=r"b.png: a 30x28 image; the mnist feature network scores 28x28"):
        read_images(tmp_path / "png", dataset="mnist")
    np.savez(tmp_path / "l.npz", images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 2, 10]))
    with pytest.raises(DataError, match="labels must be mnist classes 0-9; found 10"):
        read_images(tmp_path / "l.npz", dataset="mnist")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="a folder of images or a .npy/.npz file"):
        read_images(tmp_path / "notes.txt", dataset="mnist")
    with pytest.raises(DataError, match="no such file or directory"):
        read_images(tmp_path / "missing", dataset="mnist")
    with pytest.raises(ConfigError, match="stacked-mnist"):
        evaluate_images(tmp_path / "big.npy", "stacked-mnist")


@pytest.mark.parametrize("args, message", [
    (["RUNDIR", "--images", "x.npy", "--dataset", "mnist"], "give either --images or a RUN, not both"),
    (["--real", "--images", "x.npy", "--dataset", "mnist"], "give either --images or --real, not both"),
    (["--images", "x.npy"], "--images needs --dataset"),
    (["--images", "x.npy", "--dataset", "mnist", "--cas", "--no-ema"], "--no-ema, --cas: only for a RUN's generator"),
])
def test_images_flag_conflicts_are_one_line_errors(args, message) -> None:
    r = gk("evaluate", *args, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr


@pytest.mark.slow
def test_fashion_test_split_scores_near_the_real_floor(shared_data, tmp_path) -> None:
    test = load_dataset("fashion-mnist", split="test", data_dir=shared_data, compact=True)
    s = evaluate_images(_npy(tmp_path / "f.npy", test.x[:, 0].numpy()), "fashion-mnist", data_dir=str(shared_data))
    assert s["fid"] < 10 and s["protocol"]["n_real_stats"] == 60000 and s["protocol"]["n_generated"] == 10000
