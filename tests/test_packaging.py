"""environment.yml and pyproject.toml list the same requirements; the layout is complete."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    name, rest = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement.strip()).groups()
    return name.lower().replace("_", "-") + rest.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_normalise(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1
    listed = {_normalise(r) for r in pip_lists[0] if not r.startswith("-e")}
    assert listed == wanted, (f"only in pyproject: {sorted(wanted - listed)}; "
                              f"only in environment.yml: {sorted(listed - wanted)}")
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{project['requires-python']}"]


def test_jupyter_book_pinned_below_2_and_no_hard_pins_on_colab_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    book = " ".join(project["optional-dependencies"]["book"])
    assert "jupyter-book>=1.0.4.post1,<2" in book
    for req in project["dependencies"]:
        assert "==" not in req, f"{req}: Colab ships its own version, do not hard-pin"


def test_layout_exists():
    for path in ("imgutils", "notebooks", "book", "tests", "weights", "_config.yml", "_toc.yml",
                 "environment.yml", "Makefile", "README.md", ".ci/run"):
        assert (ROOT / path).exists(), path
