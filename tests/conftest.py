"""Shared fixtures. The real MNIST files come from $GANKIT_DATA or ../shared/data; tests needing them skip otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may download or write to the user's ~/.cache: the cache is a throwaway folder and downloading is off
    unless a test turns it on explicitly (the download tests serve files from a local HTTP server)."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("gankit-cache")))
    monkeypatch.setenv("GANKIT_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding mnist/ and fashion_mnist/ IDX files: $GANKIT_DATA, else <repo>/../shared/data."""
    env = os.environ.get("GANKIT_DATA")
    if env:
        if not Path(env).is_dir():
            pytest.fail(f"GANKIT_DATA={env} is not a directory")
        return Path(env)
    candidate = REPO_ROOT.parent / "shared" / "data"
    if candidate.is_dir():
        return candidate.resolve()
    pytest.skip("real MNIST data not available (set GANKIT_DATA or provide ../shared/data)")


@pytest.fixture
def bar_log(monkeypatch: pytest.MonkeyPatch):  # -> helpers.BarLog
    """gankit.progress.bar replaced by a BarLog for this test."""
    from gankit import progress
    from helpers import BarLog

    log = BarLog()
    monkeypatch.setattr(progress, "bar", log)
    return log
