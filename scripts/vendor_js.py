"""Fetch, verify and unpack the JavaScript the offline book serves itself (``make vendor``).

    python3 scripts/vendor_js.py

Reads the pins and sha256 checksums in ``book/_vendor.lock``. Each npm tarball is fetched once
with ``npm pack NAME@VERSION`` into ``_build/vendor/tarballs/`` (not committed; ``_build/`` is
git-ignored), its sha256 is checked on every run (a mismatch stops the build, naming the file),
and the files the pages load are unpacked into ``_build/vendor/html/_static/npm/<dir>/``.
``_config.yml`` copies that folder into the HTML output with ``html_extra_path`` (not
``html_static_path``: Jupyter Book injects every .js of every static folder into every page
once a ``_static/`` folder exists at the book root) and points ``mathjax_path`` and
``nb_ipywidgets_js`` at ``_static/npm/...``. Standard library only: runs before the venv.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "book" / "_vendor.lock"
VENDOR = ROOT / "_build" / "vendor"
TARBALLS = VENDOR / "tarballs"
STAMPS = VENDOR / "stamps"
NPM_DIR = VENDOR / "html" / "_static" / "npm"

# npm name -> (folder under _static/npm/, files or folders of the package to unpack).
# The folder names are the ones _config.yml refers to (mathjax_path, nb_ipywidgets_js).
LAYOUT = {
    # All of es5/: tex-mml-chtml.js lazy-loads its fonts (output/chtml/fonts), TeX extensions
    # (input/tex/extensions, via autoload/require), the menu, a11y and sre from there.
    "mathjax": ("mathjax", ("es5/", "LICENSE")),
    "requirejs": ("requirejs", ("require.js",)),
    # embed-amd.js bundles @jupyter-widgets/base, controls and output (the only widget modules
    # the notebooks' saved state uses) and finds its font assets next to itself.
    "@jupyter-widgets/html-manager": ("html-manager", ("dist/",)),
}
SKIP_SUFFIXES = (".map",)


class VendorError(Exception):
    pass


def read_lock(path: Path = LOCK) -> list[tuple[str, str, str]]:
    """``[(name, version, sha256), ...]`` from the lock file."""
    pins = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            spec, sha256 = line.split()
            name, version = spec.rsplit("@", 1)
        except ValueError:
            raise VendorError(
                f"{path}:{number}: expected 'name@version sha256', got {line!r}") from None
        if not name or not version or len(sha256) != 64:
            raise VendorError(f"{path}:{number}: expected 'name@version sha256', got {line!r}")
        if name not in LAYOUT:
            raise VendorError(f"{path}:{number}: {name} has no entry in LAYOUT of {__file__}")
        pins.append((name, version, sha256.lower()))
    return pins


def tarball_path(name: str, version: str) -> Path:
    # npm pack's own naming: @scope/pkg@1.0 -> scope-pkg-1.0.tgz
    return TARBALLS / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, version: str) -> Path:
    target = tarball_path(name, version)
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            f"npm not found: it is needed once to fetch {name}@{version} for the offline book.\n"
            "Install Node.js and npm (Debian/Ubuntu: sudo apt-get install npm), then rerun "
            "`make vendor`.")
    TARBALLS.mkdir(parents=True, exist_ok=True)
    print(f"vendor: npm pack {name}@{version}", flush=True)
    result = subprocess.run(
        [npm, "pack", f"{name}@{version}", "--json", "--pack-destination", str(TARBALLS),
         "--loglevel=error", "--no-fund", "--no-audit"],
        capture_output=True, text=True, cwd=TARBALLS)
    if result.returncode != 0:
        raise VendorError(f"`npm pack {name}@{version}` failed:\n{result.stderr.strip()}")
    written = TARBALLS / json.loads(result.stdout)[0]["filename"]
    if written != target:
        written.replace(target)
    return target


def verify(path: Path, name: str, version: str, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise VendorError(
            f"checksum mismatch for {path.relative_to(ROOT)} ({name}@{version}):\n"
            f"  sha256 of the file:      {actual}\n"
            f"  {LOCK.relative_to(ROOT)} expects: {expected}\n"
            "If you changed the pin on purpose, check the new tarball and put its sha256 in the "
            "lock; otherwise delete the file and rerun `make vendor`.")


def unpack(path: Path, name: str, sha256: str) -> None:
    folder, wanted = LAYOUT[name]
    dest = NPM_DIR / folder
    stamp = STAMPS / f"{folder}.sha256"
    tag = f"{sha256} {' '.join(wanted)}\n"
    if dest.is_dir() and stamp.exists() and stamp.read_text() == tag:
        return
    tmp = NPM_DIR / f".{folder}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    count = 0
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else ""
            keep = any(inner == w or (w.endswith("/") and inner.startswith(w)) for w in wanted)
            if not member.isfile() or not keep or inner.endswith(SKIP_SUFFIXES):
                continue
            member.name = inner
            tar.extract(member, tmp, filter="data")
            count += 1
    if count == 0:
        raise VendorError(f"{path.relative_to(ROOT)}: none of {wanted} found in the tarball")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    STAMPS.mkdir(parents=True, exist_ok=True)
    stamp.write_text(tag)
    print(f"vendor: {count} files of {name} -> {dest.relative_to(ROOT)}", flush=True)


def main() -> int:
    try:
        pins = read_lock()
        for name, version, sha256 in pins:
            path = fetch(name, version)
            verify(path, name, version, sha256)
            unpack(path, name, sha256)
        # Folders of packages no longer in the lock would still be copied into the book.
        current = {LAYOUT[name][0] for name, _, _ in pins}
        for stale in NPM_DIR.iterdir():
            if stale.name not in current:
                shutil.rmtree(stale)
    except VendorError as err:
        print(f"error (make vendor): {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
