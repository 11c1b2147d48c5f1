"""Provenance of executed notebooks: which profile produced the committed outputs, and when.

``make notebooks`` stamps ``metadata["imgutils"]`` into each notebook it executes; the hygiene
tests compare ``code_sha256`` with the notebook's current code cells, so a code cell edited
after the run is caught.
"""

from __future__ import annotations

import hashlib
import json

INJECTED_TAG = "injected-parameters"  # papermill's cell of injected parameters
METADATA_KEY = "imgutils"


def code_cells_sha256(notebook) -> str:
    """SHA-256 of the sources of all code cells, papermill's injected-parameters cell excluded.

    notebook: an ``nbformat`` NotebookNode (or the same structure as a dict).
    """
    sources = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell["source"]
        sources.append("".join(source) if isinstance(source, list) else source)
    return hashlib.sha256(json.dumps(sources).encode()).hexdigest()


def stamp(notebook, *, profile: str, wall_seconds: float, date: str) -> dict:
    """Write the provenance record into ``notebook.metadata`` and return it."""
    import platform

    import keras
    import tensorflow as tf

    record = {
        "profile": profile,
        "date": date,
        "wall_seconds": round(float(wall_seconds), 1),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "code_sha256": code_cells_sha256(notebook),
    }
    notebook["metadata"][METADATA_KEY] = record
    return record
