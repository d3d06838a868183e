"""Every default recipe and training option trains to the same weights, bit for bit, as the training loop did
when these fingerprints were recorded (before the loop was rebuilt around method plug-ins and hooks).

Floating-point results depend on the CPU's kernels, the torch build and the thread count, so the comparison runs
where the fingerprints were recorded (`loop_hashes.platform_key()`), and is skipped elsewhere with the reason.
"""

from __future__ import annotations

import pytest

import loop_hashes

PLATFORM = "torch 2.13.0+cpu, AVX512, x86_64, 2 threads"
EXPECTED = {
    "mnist5k-dcgan": "eaeabaa70fc38b9c1fa4a18a",
    "mnist5k-dcgan-cond": "29a386d59172851b63cd0970",
    "mnist5k-classic": "59e05b1898ccb94e7a8a2a2e",
    "mnist5k-default": "bff47aca4e090c9e1fbb6f1e",
    "mnist5k-mlp": "9cdcc8fc31f80c834886799c",
    "mnist5k-dcgan-wgan-gp": "eb766728fa6b56202fa5bf48",
    "ring8-mlp": "4bbbdd63855d92a6f744bbea",
    "grid25-mlp": "0434f606fafc47cb6a4ec7a6",
    "gaussian1d-mlp": "39f923e7bb0a82f92ef5713a",
    "swissroll-mlp": "28f4520872dae3e72ffbddf2",
    "fashion-dcgan": "4842df94a2799f43f5a31c47",
    "fashion-dcgan-cond": "075fdc64dec0e8e122e6331b",
    "fashion-classic": "b1ec1e1cd412b798dc97d9e3",
    "mnist-dcgan": "ddfc0bda54737ad54c4b7808",
    "minimax-lr-decay": "77209c04eb3386de967379f6",
    "lsgan-smoothing-noise": "f13dc4b60cfd2f9a6334b8df",
    "hinge-clip-dsteps": "58e79cf42689c146185b0e75",
    "cond-projection-r1": "0b24f0cba26b6d27ac75ff67",
    "reuse-channels-last": "8413bfda79daee78a1a02000",
    "cond-reuse-uniform-noema": "5851eae47d3439d8503e7ba0",
    "toy-mode-seeking": "e6719e5ca878117bd2de5338",
    "toy-cond": "36fdae45793923406c879a4c",
    "wgan-gp-toy-smoothing": "cdbe85ebc72b7129dee7e43c",
}


def test_every_case_has_a_fingerprint():
    assert set(EXPECTED) == set(loop_hashes.CASES)


@pytest.mark.parametrize("name", list(loop_hashes.CASES))
def test_weights_match_the_recorded_loop(tmp_path, name, request, monkeypatch):
    here = loop_hashes.platform_key()
    if here != PLATFORM:
        pytest.skip(f"fingerprints were recorded on {PLATFORM!r}; this is {here!r}")
    if name in loop_hashes.NEEDS_DATA:  # found through $GANKIT_DATA, as a user's run would
        monkeypatch.setenv("GANKIT_DATA", str(request.getfixturevalue("shared_data")))
    assert loop_hashes.train_case(name, tmp_path) == EXPECTED[name]
