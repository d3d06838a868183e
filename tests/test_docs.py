"""The README and docs/ quote only what bench/results/ holds: every marked table is what bench/render.py renders
from its JSON, every rendered table's result file exists, and every relative link points at a file."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _render_module():
    spec = importlib.util.spec_from_file_location("gankit_bench_render", ROOT / "bench" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render_module()
DOCS = render.documents(ROOT)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_tables_are_what_their_json_renders(doc):
    text = doc.read_text()
    rendered = render.render_text(text)
    stale = [name for name, a, b in zip(render.tables_in(text), render.MARKER.finditer(text),
                                        render.MARKER.finditer(rendered)) if a.group(0) != b.group(0)]
    assert rendered == text, f"{doc.name}: tables {stale} differ from bench/results/; run python bench/render.py"


def test_every_rendered_table_has_its_result_files():
    used = {name for doc in DOCS for name in render.tables_in(doc.read_text())}
    assert used, "no rendered tables found in README.md or docs/"
    assert "quality" in render.tables_in((ROOT / "README.md").read_text())
    for name in sorted(used):
        assert name in render.TABLES, f"{name}: not a table bench/render.py knows"
        files, loader, _ = render.TABLES[name]
        for f in files:
            loader(f, render.RESULTS)  # raises MissingResult naming the file


def test_a_missing_result_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(render.MissingResult, match="floors.json"):
        render.render_table("floors", tmp_path)


def test_an_edited_number_is_caught():
    text = (ROOT / "docs" / "evaluation.md").read_text()
    m = next(m for m in render.MARKER.finditer(text) if m.group("name") == "floors")
    body = m.group("body")
    edited = body.replace("| 2.80 |", "| 2.81 |", 1)
    assert edited != body
    doc = text[:m.start("body")] + edited + text[m.end("body"):]
    assert render.render_text(doc) != doc
    assert render.render_text(render.render_text(doc)) == render.render_text(doc)


def test_check_mode_passes_on_the_committed_docs(capsys):
    assert render.main(["--check"]) == 0, capsys.readouterr().out


LINK = re.compile(r"\]\(((?!https?://|#|mailto:)[^)#\s]+)(#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(doc):
    missing = [target for target, _ in LINK.findall(doc.read_text()) if not (doc.parent / target).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"


def _portable_module():
    spec = importlib.util.spec_from_file_location("gankit_bench_portable", ROOT / "bench" / "portable.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_hold_no_folder_of_the_machine_that_made_them():
    """Recorded commands read the same on every machine: no scratch folder under the temporary directory and no
    numbered scratch folder (bench/portable.py rewrites them as runs/, and the data folder as DATA)."""
    import tempfile

    portable = _portable_module()
    tmp = tempfile.gettempdir()
    assert portable.rewrite(f"--out {tmp}/x1/runs/a --data-dir /d/data", ["/d/data"], tmp) == \
        "--out runs/a --data-dir DATA"
    assert portable.rewrite(f"--runs {tmp}/qual --out x.json", [], tmp) == "--runs runs/qual --out x.json"
    stale = []
    for f in sorted((ROOT / "bench" / "results").rglob("*.json")):
        text = f.read_text()
        if re.search(rf"{re.escape(tmp)}/|\bruns/s\d+/", text):
            stale.append(f.name)
    assert not stale, f"machine folders in {stale}; run python bench/portable.py on them"
