"""The running times quoted in README.md and book/running.md come from the notebooks' provenance."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_times", ROOT / "scripts" / "run_times.py")
run_times = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_times)


def _write_notebook(folder: Path, name: str, stamp: dict, title: str = "Title") -> None:
    notebook = {"cells": [{"cell_type": "markdown", "source": [f"# {title}\n", "text"]}],
                "metadata": {"imgutils": stamp}}
    (folder / name).write_text(json.dumps(notebook), encoding="utf-8")


def test_committed_documents_quote_the_provenance():
    block = run_times.table(run_times.provenance_rows())
    for name in run_times.DOCUMENTS:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert run_times.replace_block(text, block, name) == text, (
            f"{name} quotes other running times than the notebooks' provenance: "
            "run python scripts/run_times.py")


def test_table_lists_each_chapter_and_the_total(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _write_notebook(tmp_path / "notebooks", "01_a.ipynb",
                    {"profile": "cpu", "wall_seconds": 90.4, "date": "2026-01-02T03:04:05Z"},
                    "1. A")
    _write_notebook(tmp_path / "notebooks", "02_b.ipynb",
                    {"profile": "cpu", "wall_seconds": 3600.0, "date": "2026-01-03T00:00:00Z"},
                    "2. B")
    rows = run_times.provenance_rows(tmp_path)
    assert rows == [("01_a.ipynb", "1. A", 90.4, "2026-01-02"),
                    ("02_b.ipynb", "2. B", 3600.0, "2026-01-03")]
    text = run_times.table(rows)
    assert "| 1. A | 90 s (2 min) | 2026-01-02 |" in text
    assert "| 2. B | 3,600 s (60 min) | 2026-01-03 |" in text
    assert "| all chapters | 3,690 s (62 min) | |" in text
    assert text.startswith(run_times.START) and text.endswith(run_times.END)


@pytest.mark.parametrize("stamp", [{}, {"profile": "smoke", "wall_seconds": 10.0},
                                   {"profile": "cpu"}])
def test_a_notebook_without_a_cpu_stamp_is_named(tmp_path, stamp):
    (tmp_path / "notebooks").mkdir()
    _write_notebook(tmp_path / "notebooks", "03_c.ipynb", stamp)
    with pytest.raises(ValueError, match="03_c.ipynb"):
        run_times.provenance_rows(tmp_path)


def test_replace_block_needs_exactly_one_pair_of_markers():
    block = f"{run_times.START}\nnew\n{run_times.END}"
    text = f"before\n{run_times.START}\nold\n{run_times.END}\nafter"
    assert run_times.replace_block(text, block, "doc") == f"before\n{block}\nafter"
    with pytest.raises(ValueError, match="doc"):
        run_times.replace_block("no markers", block, "doc")
    with pytest.raises(ValueError, match="doc"):
        run_times.replace_block(text + text, block, "doc")
