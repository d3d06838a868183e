"""The npy: data source, uint8 folder images, the memory budget, and data sets read from disk through a memory map
(plus bench/memory.py's data-path row on a tiny set)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import Dataset, load_dataset, memory_budget
from gankit.data.budget import FALLBACK_BUDGET, parse_size
from gankit.data.npyio import map_tensor
from gankit.data.transforms import as_float
from gankit.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (40, 12, 12), dtype=np.uint8)  # [N, H, W]
RGB = RNG.integers(0, 256, (30, 3, 10, 10), dtype=np.uint8)  # [N, C, H, W]


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def save(path: Path, array: np.ndarray) -> str:
    np.save(path, array)
    return f"npy:{path}"


def mapped_region(t: torch.Tensor, path: Path) -> bool:
    """Whether tensor `t`'s memory lies in a mapping of the file `path` (Linux)."""
    addr = t.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5] == str(path.resolve()):
            lo, hi = (int(v, 16) for v in parts[0].split("-"))
            if lo <= addr < hi:
                return True
    return False


needs_proc = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps (Linux)")


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch):
    def set_budget(value: str) -> None:
        monkeypatch.setenv("GANKIT_MEMORY_BUDGET", value)
    set_budget("64G")
    return set_budget


# ------------------------------------------------------------------------------------------------ layouts
def test_the_three_uint8_layouts_give_the_same_images(tmp_path: Path) -> None:
    want = torch.from_numpy(RGB)
    nchw = load_dataset(save(tmp_path / "a.npy", RGB), compact=True)
    nhwc = load_dataset(save(tmp_path / "b.npy", RGB.transpose(0, 2, 3, 1)), compact=True)
    assert nchw.x.dtype == nhwc.x.dtype == torch.uint8
    assert torch.equal(nchw.x, want) and torch.equal(nhwc.x, want) and nhwc.x.is_contiguous()
    grey = load_dataset(save(tmp_path / "g.npy", GREY), compact=True)
    assert grey.x.shape == (40, 1, 12, 12) and torch.equal(grey.x[:, 0], torch.from_numpy(GREY))
    assert grey.y is None and grey.num_classes == 0 and grey.name == f"npy:{tmp_path / 'g.npy'}"
    # without compact: float32 in [-1, 1], exactly what as_float makes of the pixels
    full = load_dataset(f"npy:{tmp_path / 'b.npy'}")
    assert full.x.dtype == torch.float32 and torch.equal(full.x, as_float(want))
    one = load_dataset(save(tmp_path / "c.npy", RGB[:, :1].transpose(0, 2, 3, 1)), compact=True)  # [N, H, W, 1]
    assert torch.equal(one.x, want[:, :1])


@pytest.mark.parametrize("kind", ["[-1, 1]", "[0, 1]"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_ranges_are_detected(tmp_path: Path, kind: str, dtype: type) -> None:
    pixels = GREY.astype(np.float64)
    values = pixels / 127.5 - 1 if kind == "[-1, 1]" else pixels / 255
    d = load_dataset(save(tmp_path / "f.npy", values.astype(dtype)), compact=True)
    assert d.x.dtype == torch.float32  # floats are never rounded to pixels
    atol = 2e-3 if dtype == np.float16 else 1e-6
    assert torch.allclose(d.x, as_float(torch.from_numpy(GREY)).unsqueeze(1), atol=atol)


@pytest.mark.parametrize("values, fault", [
    (np.linspace(0, 255, 64), "outside [-1, 1] and [0, 1]; 0-255 pixels should be stored as uint8"),
    (np.linspace(-2, 1, 64), "outside"),
    (np.linspace(-0.2, 1, 64), "ambiguous"),
    (np.r_[np.linspace(-1, 1, 63), np.nan], "NaN"),
])
def test_out_of_range_and_ambiguous_floats_are_refused(tmp_path: Path, values: np.ndarray, fault: str) -> None:
    path = tmp_path / "bad.npy"
    with pytest.raises(DataError) as e:
        load_dataset(save(path, values.reshape(1, 8, 8).astype(np.float32)))
    msg = one_line(e)
    assert fault in msg and str(path) in msg and "float32" in msg and "[1, 8, 8]" in msg
    if "ambiguous" in fault or "outside" in fault:
        assert "values in [" in msg


@pytest.mark.parametrize("array, fault", [
    (np.zeros((4, 8), np.uint8), "got 2 dimensions"),
    (np.zeros((4, 8, 8, 8, 1), np.uint8), "got 5 dimensions"),
    (np.zeros((4, 2, 8, 8), np.uint8), "channels must be 1 or 3"),
    (np.zeros((4, 3, 8, 3), np.uint8), "ambiguous layout"),
    (np.zeros((0, 8, 8), np.uint8), "holds no images"),
    (np.zeros((4, 8, 8), np.int64), "uint8 pixels (0-255) or floats"),
    (np.zeros((4, 8, 8), bool), "uint8 pixels (0-255) or floats"),
])
def test_bad_arrays_are_refused_naming_file_and_shape(tmp_path: Path, array: np.ndarray, fault: str) -> None:
    path = tmp_path / "x.npy"
    with pytest.raises(DataError) as e:
        load_dataset(save(path, array))
    msg = one_line(e)
    assert fault in msg and str(path) in msg and str(array.dtype) in msg and str(list(array.shape)) in msg


def test_pickled_arrays_are_never_loaded(tmp_path: Path) -> None:
    objects = np.empty(3, dtype=object)
    objects[:] = [np.zeros((8, 8)), "x", None]
    np.save(tmp_path / "o.npy", objects, allow_pickle=True)
    with pytest.raises(DataError, match="Python objects") as e:
        load_dataset(f"npy:{tmp_path / 'o.npy'}")
    assert str(tmp_path / "o.npy") in one_line(e)
    np.savez(tmp_path / "o.npz", images=GREY, labels=objects)
    with pytest.raises(DataError, match="'labels' holds Python objects"):
        load_dataset(f"npy:{tmp_path / 'o.npz'}")


def test_files_that_are_not_arrays(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dataset(f"npy:{tmp_path / 'missing.npy'}")
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(f"npy:{tmp_path}")
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(DataError, match="not a .npy or .npz file"):
        load_dataset(f"npy:{tmp_path / 't.txt'}")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match="junk.npy: not a readable .npy array"):
        load_dataset(f"npy:{tmp_path / 'junk.npy'}")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz: not a readable .npz file"):
        load_dataset(f"npy:{tmp_path / 'junk.npz'}")
    np.save(tmp_path / "cut.npy", GREY)
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-100])
    with pytest.raises(DataError, match="cut.npy: truncated"):
        load_dataset(f"npy:{tmp_path / 'cut.npy'}")
    with pytest.raises(ConfigError, match="needs a path"):
        load_dataset("npy:")


# ------------------------------------------------------------------------------------------------ .npz labels
def test_npz_images_and_labels_make_a_conditional_set(tmp_path: Path) -> None:
    labels = np.arange(40) % 5
    np.savez(tmp_path / "d.npz", images=GREY, labels=labels.astype(np.uint8))
    d = load_dataset(f"npy:{tmp_path / 'd.npz'}", compact=True)
    assert d.num_classes == 5 and d.y.dtype == torch.int64 and d.y.tolist() == labels.tolist()
    assert torch.equal(d.x[:, 0], torch.from_numpy(GREY))
    np.savez(tmp_path / "e.npz", x=GREY, y=labels)  # the short names
    sub = load_dataset(f"npy:{tmp_path / 'e.npz'}", n=10, seed=3, compact=True)
    assert len(sub) == 10 and sub.num_classes == 5
    # the subset keeps labels with their images, in file order
    rows = [int(np.flatnonzero((GREY == sub.x[i, 0].numpy()).all(axis=(1, 2)))[0]) for i in range(10)]
    assert rows == sorted(rows) and sub.y.tolist() == [labels[r] for r in rows]
    np.savez(tmp_path / "u.npz", images=GREY)
    assert load_dataset(f"npy:{tmp_path / 'u.npz'}").y is None


@pytest.mark.parametrize("members, fault", [
    ({"pixels": GREY}, "no 'images' (or 'x') array; it holds 'pixels'"),
    ({"images": GREY, "x": GREY}, "holds both 'images' and 'x'"),
    ({"images": GREY, "labels": np.zeros(39, np.int64)}, "39 labels for 40 images"),
    ({"images": GREY, "labels": np.r_[np.zeros(39, np.int64), -1]}, "labels must be >= 0; found -1"),
    ({"images": GREY, "labels": np.zeros(40, np.float32)}, "labels must be integers (class indices); got float32"),
    ({"images": GREY, "y": np.zeros((40, 2), np.int64)}, "shape [N]; got shape [40, 2]"),
])
def test_npz_faults_are_named(tmp_path: Path, members: dict, fault: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **members)
    with pytest.raises(DataError) as e:
        load_dataset(f"npy:{path}")
    msg = one_line(e)
    assert fault in msg and str(path) in msg


# ------------------------------------------------------------------------------------------------ size, channels
def test_resize_and_recolour_keep_pixels_when_compact(tmp_path: Path) -> None:
    name = save(tmp_path / "g.npy", GREY)
    small = load_dataset(name, compact=True, image_size=8, channels=3)
    full = load_dataset(name, image_size=8, channels=3)
    assert small.x.dtype == torch.uint8 and small.x.shape == full.x.shape == (40, 3, 8, 8)
    assert full.x.dtype == torch.float32
    # the pixels are the float images rounded to the nearest pixel value
    assert (as_float(small.x) - full.x).abs().max() <= 0.5 / 127.5 + 1e-6
    assert torch.equal(small.x[:, 0], small.x[:, 2])  # grey -> RGB repeats the channel
    wide = RNG.integers(0, 256, (5, 3, 10, 16), dtype=np.uint8)  # non-square: the centre square is kept
    got = load_dataset(save(tmp_path / "w.npy", wide), compact=True, image_size=10)
    assert torch.equal(got.x, torch.from_numpy(wide[:, :, :, 3:13]))
    with pytest.raises(ConfigError, match="channels must be 1 or 3"):
        load_dataset(name, channels=2)


# ------------------------------------------------------------------------------------------------ budget
@pytest.mark.parametrize("text, value", [("123", 123), ("2G", 2 * 1024**3), ("512m", 512 * 1024**2),
                                         ("1.5GiB", 3 * 1024**3 // 2), ("64 kb", 64 * 1024), ("0", 0)])
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_memory_budget_from_env_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANKIT_MEMORY_BUDGET", "3M")
    assert memory_budget() == 3 * 1024**2
    monkeypatch.setenv("GANKIT_MEMORY_BUDGET", "lots")
    with pytest.raises(ConfigError, match="GANKIT_MEMORY_BUDGET='lots'"):
        memory_budget()
    monkeypatch.delenv("GANKIT_MEMORY_BUDGET")
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert memory_budget() == ram // 4
    monkeypatch.setattr("gankit.data.budget.physical_memory", lambda: None)
    assert memory_budget() == FALLBACK_BUDGET


# ------------------------------------------------------------------------------------------------ memory map
@needs_proc
def test_a_uint8_npy_past_the_budget_is_mapped_where_it_lies(tmp_path: Path, budget) -> None:
    path = tmp_path / "rgb.npy"
    name = save(path, RGB)
    budget(str(RGB.nbytes - 1))
    d = load_dataset(name, compact=True)
    assert d.x.dtype == torch.uint8 and mapped_region(d.x, path)  # a view of the file, not a copy
    assert torch.equal(d.x, torch.from_numpy(RGB))
    idx = torch.tensor([3, 0, 29])
    assert torch.equal(as_float(d.x[idx]), as_float(torch.from_numpy(RGB[[3, 0, 29]])))  # training's batches
    budget("0")
    grey = load_dataset(save(tmp_path / "g.npy", GREY), compact=True)  # [N, H, W]: a view with C = 1 added
    assert grey.x.shape == (40, 1, 12, 12) and mapped_region(grey.x, tmp_path / "g.npy")
    d.x[0, 0, 0, 0] = 255 - d.x[0, 0, 0, 0]  # copy-on-write: the process's page changes, never the file
    assert np.array_equal(np.load(path), RGB)
    budget(str(RGB.nbytes))  # exactly the budget still fits in memory
    assert not mapped_region(load_dataset(name, compact=True).x, path)
    assert load_dataset(name).x.dtype == torch.float32  # without compact: floats in memory, whatever the size


@needs_proc
def test_dataset_does_not_copy_a_mapped_tensor(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", RGB)
    x = map_tensor(tmp_path / "a.npy")
    d = Dataset("a", x, torch.zeros(30, dtype=torch.int64), 1)
    assert d.x.data_ptr() == x.data_ptr() and mapped_region(d.x, tmp_path / "a.npy")


@needs_proc
def test_arrays_needing_changes_are_converted_once_into_a_mapped_cache(tmp_path: Path, budget) -> None:
    cache = Path(os.environ["GANKIT_CACHE"]) / "images"
    nhwc = tmp_path / "nhwc.npy"
    name = save(nhwc, RGB.transpose(0, 2, 3, 1))
    in_memory = load_dataset(name, compact=True, image_size=8, channels=1, n=20, seed=1)
    budget("0")
    d = load_dataset(name, compact=True, image_size=8, channels=1, n=20, seed=1)
    files = list(cache.glob("nhwc.npy-*.npy"))
    assert len(files) == 1 and mapped_region(d.x, files[0]) and not list(cache.glob("*.tmp"))
    assert torch.equal(d.x, in_memory.x)
    stamp = files[0].stat().st_mtime_ns
    again = load_dataset(name, compact=True, image_size=8, channels=1, n=20, seed=1)
    assert files[0].stat().st_mtime_ns == stamp and torch.equal(again.x, d.x)  # reused, not remade
    load_dataset(name, compact=True)  # other arguments: another file
    assert len(list(cache.glob("nhwc.npy-*.npy"))) == 2
    np.save(nhwc, RGB[::-1].transpose(0, 2, 3, 1))  # a changed source is never served from the old file
    os.utime(nhwc, ns=(stamp + 10**9, stamp + 10**9))
    fresh = load_dataset(name, compact=True)
    assert torch.equal(fresh.x, torch.from_numpy(RGB[::-1].copy()))
    np.savez(tmp_path / "z.npz", images=GREY, labels=np.arange(40) % 2)  # .npz members are read, then cached
    z = load_dataset(f"npy:{tmp_path / 'z.npz'}", compact=True)
    assert z.num_classes == 2 and torch.equal(z.x[:, 0], torch.from_numpy(GREY))
    assert mapped_region(z.x, next(cache.glob("z.npz-*.npy")))


def test_a_failed_conversion_leaves_no_cache_file(tmp_path: Path, budget, monkeypatch: pytest.MonkeyPatch) -> None:
    import gankit.data.arrays as arrays

    name = save(tmp_path / "a.npy", RGB.transpose(0, 2, 3, 1))
    budget("0")

    def broken(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(arrays, "_nchw", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        load_dataset(name, compact=True)
    assert not list((Path(os.environ["GANKIT_CACHE"]) / "images").glob("*"))


def test_training_runs_on_a_mapped_labelled_npz(tmp_path: Path, budget) -> None:
    import gankit

    digits = load_dataset("mnist5k", n=256, compact=True)
    np.savez(tmp_path / "d.npz", images=digits.x[:, 0].numpy(), labels=digits.y.numpy())
    budget("0")  # mapped from the cache file, as a set past the budget would be
    r = gankit.train(gankit.TrainConfig(dataset=f"npy:{tmp_path / 'd.npz'}", conditional=True, steps=2,
                                        batch_size=16, width=8, out=str(tmp_path / "run"), progress=False))
    assert r.step == 2 and r.checkpoint.is_file()


# ------------------------------------------------------------------------------------------------ folders
def _folder(root: Path, count: int = 6) -> Path:
    for i in range(count):
        sub = root / ("cats" if i % 2 else "dogs")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(RNG.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(sub / f"{i}.png")
    return root


def test_folder_images_stay_uint8_when_compact(tmp_path: Path) -> None:
    name = f"folder:{_folder(tmp_path / 'f')}"
    small = load_dataset(name, compact=True, image_size=16)
    full = load_dataset(name, image_size=16)
    assert small.x.dtype == torch.uint8 and full.x.dtype == torch.float32 and small.x.shape == (6, 3, 16, 16)
    assert torch.equal(as_float(small.x), full.x) and torch.equal(small.y, full.y)  # the very same values


@needs_proc
def test_a_folder_past_the_budget_is_decoded_once_into_a_mapped_cache(tmp_path: Path, budget,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import gankit.data.folder as folder

    root = _folder(tmp_path / "f")
    name = f"folder:{root}"
    want = load_dataset(name, compact=True, image_size=16)
    budget("1K")
    d = load_dataset(name, compact=True, image_size=16)
    files = list((Path(os.environ["GANKIT_CACHE"]) / "images").glob("f-*.npy"))
    assert len(files) == 1 and mapped_region(d.x, files[0])
    assert torch.equal(d.x, want.x) and d.class_names == ["cats", "dogs"] and torch.equal(d.y, want.y)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(folder, "load_image", no_decoding)
    assert torch.equal(load_dataset(name, compact=True, image_size=16).x, want.x)  # served from the cache
    changed = root / "dogs" / "0.png"  # same names, same count: one image redrawn
    stamp = changed.stat().st_mtime_ns
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(changed)
    os.utime(changed, ns=(stamp + 10**9, stamp + 10**9))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(name, compact=True, image_size=16)


# ------------------------------------------------------------------------------------------------ bench
def test_bench_memory_data_path_row_on_a_tiny_set(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from memory import measure_data_path, write_images

    path = write_images(tmp_path / "tiny.npy", 300, (3, 16, 16), seed=1)
    assert np.load(path).shape == (300, 3, 16, 16)
    held = measure_data_path(path, budget="64G", batches=7, batch_size=64)
    mapped = measure_data_path(path, budget="0", batches=7, batch_size=64)
    for row in (held, mapped):
        assert row["n"] == 300 and row["sample_shape"] == [3, 16, 16] and row["dtype"] == "torch.uint8"
        assert row["peak_rss_mib"] > 10 and row["load_s"] >= 0
    assert held["mapped"] == [] and held["budget_bytes"] == 64 * 1024**3
    assert mapped["mapped"] == ["tiny.npy"] and mapped["budget_bytes"] == 0
    # 7 batches of 64 from 300 images cross an epoch: same batches, same pixels, whichever way the data is held
    assert held["checksum"] == mapped["checksum"]
