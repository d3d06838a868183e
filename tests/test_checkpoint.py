import os
import pickle

import pytest
import torch

from gankit import checkpoint as ckpt
from gankit.errors import CheckpointError

MARKER = "gankit_pwned_marker"


class _Evil:
    """Unpickling this object would create a marker file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _write_meta_checkpoint(path):
    return ckpt.save(path, {"G/w": torch.arange(6.0).view(2, 3)}, {"step": 3, "config": {}})


def test_round_trip_and_atomic_leftovers(tmp_path):
    p = _write_meta_checkpoint(tmp_path / "checkpoints" / ckpt.checkpoint_name(3))
    tensors, meta = ckpt.load(p)
    assert torch.equal(tensors["G/w"], torch.arange(6.0).view(2, 3))
    assert meta["step"] == 3 and meta["format"] == "gankit-checkpoint"
    assert [x.name for x in p.parent.iterdir()] == [p.name]  # no temporary file left behind


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_malicious_pickle_checkpoint_is_refused_without_running_code(tmp_path, writer):
    marker = tmp_path / MARKER
    p = tmp_path / "run" / "checkpoints" / ckpt.checkpoint_name(10)
    p.parent.mkdir(parents=True)
    if writer == "torch.save":
        torch.save({"G": _Evil(marker)}, p)
    else:
        p.write_bytes(pickle.dumps({"G": _Evil(marker)}, protocol=2))
    with pytest.raises(CheckpointError, match="refusing to load a pickle-based checkpoint"):
        ckpt.load(p)
    import gankit

    with pytest.raises(CheckpointError, match="pickle"):
        gankit.load(tmp_path / "run")
    assert not marker.exists()


def test_truncated_checkpoint(tmp_path):
    p = _write_meta_checkpoint(tmp_path / "a.safetensors")
    data = p.read_bytes()
    for cut in (4, 20, len(data) - 8):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated|corrupt") as e:
            ckpt.load(bad)
        assert str(bad) in str(e.value)


def test_garbage_and_missing(tmp_path):
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json header}" + b"\0" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt.load(bad)
    with pytest.raises(CheckpointError, match="no such"):
        ckpt.load(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoints"):
        ckpt.latest_checkpoint(tmp_path)


def test_plain_safetensors_without_metadata_is_named(tmp_path):
    from safetensors.torch import save_file

    p = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(p))
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        ckpt.load(p)


def test_optimizer_round_trip_exact():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=True)
    for _ in range(3):
        opt.zero_grad()
        m(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors, meta = ckpt.pack_optimizer("opt", opt)
    tensors = {k: v.clone() for k, v in tensors.items()}  # as if read from a file: no storage shared with opt
    m2 = torch.nn.Linear(3, 2)
    m2.load_state_dict(m.state_dict())
    opt2 = torch.optim.Adam(m2.parameters(), lr=5.0, foreach=True)
    ckpt.unpack_optimizer("opt", opt2, tensors, meta, path="x")
    x = torch.randn(4, 3)
    for o, mod in ((opt, m), (opt2, m2)):
        o.zero_grad()
        mod(x).sum().backward()
        o.step()
    for a, b in zip(m.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_prune_keeps_newest(tmp_path):
    for s in (1, 2, 3, 4):
        _write_meta_checkpoint(tmp_path / "checkpoints" / ckpt.checkpoint_name(s))
    ckpt.prune(tmp_path, keep=2)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [3, 4]


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"])
def test_header_length_that_looks_like_a_pickle_signature_still_loads(tmp_path, first_bytes):
    """The 8-byte header length of a real checkpoint can begin with 0x80 (1 file in 256) or 'PK'."""
    p = tmp_path / "c.safetensors"
    ckpt.save(p, {"G/w": torch.ones(2)}, {"step": 1, "config": {}, "pad": ""})
    n0 = int.from_bytes(p.read_bytes()[:8], "little")  # the header grows one byte per padding character
    target = 0x80 + 256 * (n0 // 256 + 1) if first_bytes == b"\x80" else 0x4B50  # little-endian b"PK" = 0x4B50
    for pad in range(target - n0 - 8, target - n0 + 8):
        ckpt.save(p, {"G/w": torch.ones(2)}, {"step": 1, "config": {}, "pad": "x" * pad})
        if p.read_bytes()[:len(first_bytes)] == first_bytes:
            break
    else:
        pytest.fail("no padding gave the wanted first bytes")
    tensors, meta = ckpt.load(p)
    assert meta["step"] == 1 and torch.equal(tensors["G/w"], torch.ones(2))
