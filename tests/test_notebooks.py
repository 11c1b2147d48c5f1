"""Notebook checks: smoke execution with papermill, and hygiene of the committed outputs."""

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
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
# TensorFlow's C++ log lines ("I0000 00:00:17956... port.cc:153] ...", absl's pre-init notice)
CPP_LOG = re.compile(r"(^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.]+:\d+\]|absl::InitializeLog|"
                     r"rebuild TensorFlow with the appropriate compiler flags)", re.M)
OBJECT_REPR = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>")
COLAB_PINS = ROOT / ".ci" / "colab-versions.txt"
SOLUTION = re.compile(r'<details class="solution" data-exercise="([\w-]+)">\n<summary>')


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
@pytest.mark.colab
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
    if os.environ.get("IMGUTILS_COLAB_VERSIONS"):       # make smoke-colab: Colab's versions
        report = next(t for t in texts if "profile    : smoke" in t)
        pins = colab_pins()
        for package in ("tensorflow", "keras", "numpy"):
            assert f"{package:<10} : {pins[package]}\n" in report, report
        # imgutils is not pip-installed in .venv-colab: the setup cell put the clone on sys.path
        assert not list(Path(sys.prefix).glob("lib/python*/site-packages/imgutils*"))


def colab_pins() -> dict[str, str]:
    """``{package: version}`` pinned in .ci/colab-versions.txt (names lower-case, '-' for '_')."""
    pins = {}
    for line in COLAB_PINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def setup_cell_of(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_setup_cell_is_the_same_in_every_chapter_and_in_running_md():
    cells = {path.name: setup_cell_of(path) for path in NOTEBOOKS}
    assert len(set(cells.values())) == 1, f"setup cells differ: {sorted(cells)}"
    running = (ROOT / "book" / "running.md").read_text()
    block = running.split("% tests/test_notebooks.py keeps this block equal", 1)[1]
    block = block.split("```python\n", 1)[1].split("```", 1)[0]
    assert textwrap.dedent(block).strip() == next(iter(cells.values())).strip()


def test_setup_cell_in_colab_clones_once_and_survives_a_restart(tmp_path, monkeypatch):
    """Colab simulated: google.colab imported, cwd /content; git clone is intercepted."""
    import subprocess as subprocess_module
    import types

    source = setup_cell_of(NOTEBOOKS[0])
    clones = []

    def fake_run(cmd, check):
        clones.append(cmd)
        Path(cmd[-1]).mkdir()
        return subprocess_module.CompletedProcess(cmd, 0)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess_module, "run", fake_run)
    code_dir = str(tmp_path / "deep-image-generation-restoration")
    for session in range(3):            # first run, a rerun, then after Runtime -> Restart
        if session == 2:
            monkeypatch.setattr(sys, "path", [p for p in sys.path if p != code_dir])
        monkeypatch.setattr(sys, "path", list(sys.path))
        exec(compile(source, "setup-cell", "exec"), {})
        assert sys.path[0] == code_dir or (session == 1 and code_dir in sys.path)
        assert sys.path.count(code_dir) == 1
    assert len(clones) == 1 and clones[0][:4] == ["git", "clone", "--depth", "1"]
    assert clones[0][4].endswith("/deep-image-generation-restoration")


def test_setup_cell_in_a_plain_clone_puts_the_clone_on_sys_path(monkeypatch):
    source = setup_cell_of(NOTEBOOKS[0])
    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.setattr(sys, "path", list(sys.path))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imgutils" else real_find_spec(name, *a))
    exec(compile(source, "setup-cell", "exec"), {})
    assert sys.path[0] == str(ROOT)


def test_colab_ships_every_runtime_dependency():
    """The setup cell installs nothing, so every runtime dependency must be in Colab's list."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}
    pins = colab_pins()
    assert names <= set(pins), f"not in Colab's list: {sorted(names - set(pins))}"
    assert "# python: 3.13" in COLAB_PINS.read_text()


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
            assert not CPP_LOG.search(text), f"TensorFlow C++ log line in output: {text[:200]}"
            assert not OBJECT_REPR.search(text), f"object repr in output: {text[:200]}"
            assert "cases wrong" not in text, f"an unattempted stub's failures: {text[:200]}"
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
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    exercises = re.findall(r"```\{exercise\}\n:label: ([\w-]+)", markdown)
    # Solutions are <details> (collapsed in Jupyter and Colab), one per exercise, after it;
    # a {solution} directive would be printed in full there (book/_ext turns them back).
    assert len(exercises) >= 4 and SOLUTION.findall(markdown) == exercises
    assert "{solution}" not in markdown and markdown.count("</details>") == len(exercises)
    assert any("check_" in c.source for c in nb.cells if c.cell_type == "code")
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_machine_paths_in_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert not MACHINE_PATH.search(str(nb.metadata)), "machine path in notebook metadata"
