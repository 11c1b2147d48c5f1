"""Notebook checks: smoke execution with papermill, and hygiene of the committed outputs."""

import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from imgutils.provenance import METADATA_KEY, code_cells_sha256

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SMOKE_SECONDS: dict[str, float] = {}
MACHINE_PATH = re.compile(r"(/work/|/home/|/root/|/tmp/|/usr/|site-packages|[A-Z]:\\\\)")


def _tracked_state() -> str:
    """Hash of every tracked file's content, to prove a run modified none of them."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.split(b"\0")
    out = subprocess.run(["git", "hash-object", "--stdin-paths"], cwd=ROOT, check=True,
                         input=b"\n".join(f for f in files if f and (ROOT / f.decode()).is_file()),
                         capture_output=True)
    return out.stdout.decode()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_smoke_run_with_papermill(path, tmp_path, monkeypatch):
    import papermill

    monkeypatch.delenv("IMGUTILS_PROFILE", raising=False)
    before = _tracked_state()
    start = time.perf_counter()
    papermill.execute_notebook(str(path), str(tmp_path / path.name), cwd=str(path.parent),
                               parameters={"PROFILE": "smoke"}, kernel_name="python3",
                               execution_timeout=300, progress_bar=False)
    SMOKE_SECONDS[path.name] = time.perf_counter() - start
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code"
             for o in c.outputs]
    assert any("profile    : smoke (from argument)" in t for t in texts)
    assert _tracked_state() == before, "a smoke run modified a tracked file"


@pytest.fixture(scope="module")
def repository_url():
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(path, repository_url):
    assert path.stat().st_size < 5 * 1024 * 1024, "notebook must stay under 5 MB"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    record = nb.metadata.get(METADATA_KEY)
    assert record, "no provenance: run `make notebooks PROFILE=cpu` (or full)"
    assert record["profile"] in ("cpu", "full"), f"committed outputs from {record['profile']}"
    assert record["code_sha256"] == code_cells_sha256(nb), (
        "code cells were edited after the committed run: re-run `make notebooks`")
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), "some code cells were not executed"
    for cell in code_cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"error output: {output.get('ename')}"
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"machine path in output: {text[:200]}"
            assert "(from argument)" not in text or "smoke" not in text
    assert any("profile    : " + record["profile"] in o.get("text", "")
               for c in code_cells for o in c.outputs), "environment report missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path, repository_url):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    badge = (f"https://colab.research.google.com/github/"
             f"{repository_url.removeprefix('https://github.com/')}/blob/main/notebooks/"
             f"{path.name}")
    assert badge in first.source, "Colab badge must point at the repository of _config.yml"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "PROFILE = None" in tagged[0].source
    assert "SEED = 0" in tagged[0].source
    before = nb.cells[:nb.cells.index(tagged[0])]
    heavy = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|imgutils)", re.M)
    assert not any(heavy.search(c.source) for c in before if c.cell_type == "code")
    exercises = sum(c.source.count("```{exercise}") for c in nb.cells if c.cell_type == "markdown")
    solutions = sum(c.source.count("```{solution}") for c in nb.cells if c.cell_type == "markdown")
    assert exercises >= 4 and solutions == exercises
    assert any("check_" in c.source for c in nb.cells if c.cell_type == "code")
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_machine_paths_in_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert not MACHINE_PATH.search(str(nb.metadata)), "machine path in notebook metadata"
