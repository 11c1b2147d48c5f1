"""Sphinx extension: notebooks written for Jupyter and Colab first, rendered for the book.

In a notebook, each solution is a ``<details class="solution" data-exercise="LABEL">`` block,
so that Jupyter and Colab show it collapsed under its exercise; a ``{solution}`` directive
would be printed there in full, right under the question. For the book this extension turns
every such block back into a sphinx-exercise ``{solution} LABEL`` dropdown (numbered with its
exercise, e.g. "Solution to Exercise 3.2"), and removes the chapter number from the notebook's
title ("# 3. Variational autoencoders"), which the numbered table of contents adds itself.
It also drops the Font Awesome stylesheet link that matplotlib's animation player
(``Animation.to_jshtml``) writes into its HTML output: the book's theme already provides those
icons, and the link is a request to a CDN that an offline reader cannot make (in Jupyter and
Colab the player needs it, so the notebooks keep it). The notebook files are not changed.
"""

from __future__ import annotations

import json
import re

SOLUTION = re.compile(
    r'<details class="solution" data-exercise="(?P<label>[\w-]+)">\s*'
    r"<summary>.*?</summary>\s*\n(?P<body>.*?)\n\s*</details>", re.S)
NUMBERED_TITLE = re.compile(r"\A# \d+\.\s+")
FONT_AWESOME_LINK = re.compile(r'<link\b[^>]*href="https?://[^"]*font-awesome[^"]*"[^>]*>\n?')


def solution_directive(match: re.Match) -> str:
    body = match.group("body").strip("\n")
    return f"````{{solution}} {match.group('label')}\n:class: dropdown\n\n{body}\n````"


def convert_markdown(source: str, first: bool = False) -> str:
    """One markdown cell: ``<details class="solution">`` -> ``{solution}``; title unnumbered."""
    if first:
        source = NUMBERED_TITLE.sub("# ", source, count=1)
    return SOLUTION.sub(solution_directive, source)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def convert_notebook(text: str) -> str:
    """The JSON text of a notebook with its cells converted for the book."""
    notebook = json.loads(text)
    cells = notebook.get("cells", [])
    markdown = [c for c in cells if c.get("cell_type") == "markdown"]
    for i, cell in enumerate(markdown):
        cell["source"] = convert_markdown(_text(cell["source"]), first=i == 0)
    for cell in cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if "text/html" in data:
                data["text/html"] = FONT_AWESOME_LINK.sub("", _text(data["text/html"]))
    return json.dumps(notebook)


def on_source_read(app, docname: str, content: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        content[0] = convert_notebook(content[0])


def setup(app):
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
