"""docs/extending.md's "Your own data, networks and loss" example runs as written (in a scratch folder)."""

import os
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_bring_your_own_example_runs(tmp_path, capsys):
    text = DOC.read_text()
    section = text[text.index("## Your own data, networks and loss"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope = {"__name__": "readme_example"}
        exec(compile(code, "docs/extending.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    mean = scope["G"].sample(1000, seed=0).mean(dim=0)
    assert (mean - scope["points"].mean(dim=0)).abs().max() < 0.2, mean
    assert (tmp_path / "runs" / "own-points" / "progress.gif").exists()
