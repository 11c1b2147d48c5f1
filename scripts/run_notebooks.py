"""Execute the book's notebooks with papermill and stamp provenance (``make notebooks``).

    python scripts/run_notebooks.py --profile cpu [--nb 01] [--output-dir DIR]

Without ``--output-dir`` the notebooks are executed *in place*: their outputs become the ones
committed to the book, and ``metadata["imgutils"]`` records the profile, date, wall time,
versions and a hash of the code cells. The profile reaches the notebook through the
environment variable ``IMGUTILS_PROFILE`` (the notebook's ``PROFILE = None`` stays as written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgutils.provenance import stamp  # noqa: E402


def select(pattern: str | None) -> list[Path]:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        notebooks = [nb for nb in notebooks if nb.name.startswith(pattern)]
    if not notebooks:
        raise SystemExit(f"no notebook matches {pattern!r} in notebooks/")
    return notebooks


def run(notebook: Path, profile: str, output_dir: Path | None, timeout: int) -> float:
    os.environ["IMGUTILS_PROFILE"] = profile
    output = (output_dir / notebook.name) if output_dir else notebook
    start = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(output), cwd=str(notebook.parent),
                               kernel_name="python3", execution_timeout=timeout,
                               progress_bar=False, log_output=False)
    wall = time.perf_counter() - start
    executed = nbformat.read(output, as_version=4)
    for key in ("input_path", "output_path"):  # no machine paths in committed notebooks
        executed.metadata.get("papermill", {})[key] = f"notebooks/{notebook.name}"
    stamp(executed, profile=profile, wall_seconds=wall,
          date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    nbformat.write(executed, output)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, choices=["smoke", "cpu", "full"])
    parser.add_argument("--nb", default=None, help="chapter number prefix, e.g. 01")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args()
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    elif args.profile == "smoke":
        raise SystemExit("smoke outputs must not be committed: pass --output-dir")
    for notebook in select(args.nb):
        print(f"{notebook.name}: running with profile {args.profile} ...", flush=True)
        wall = run(notebook, args.profile, args.output_dir, args.timeout)
        print(f"{notebook.name}: done in {wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
