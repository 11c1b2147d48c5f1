"""book/_ext/notebook_markup.py: notebooks written for Jupyter/Colab, rendered for the book."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebook_markup",
                                               ROOT / "book" / "_ext" / "notebook_markup.py")
markup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(markup)

CELL = """```{exercise}
:label: ch09-x

Compute $x$.
```

<details class="solution" data-exercise="ch09-x">
<summary><b>Solution</b> (click to open)</summary>

    def f(x):
        return x

Then $x = 1$.

</details>
"""


def test_solution_details_become_sphinx_exercise_dropdowns():
    out = markup.convert_markdown(CELL)
    assert "<details" not in out and "</details>" not in out
    assert out.endswith("````{solution} ch09-x\n:class: dropdown\n\n    def f(x):\n"
                        "        return x\n\nThen $x = 1$.\n````\n")
    assert out.startswith("```{exercise}\n:label: ch09-x")


def test_title_number_is_left_to_the_table_of_contents():
    assert markup.convert_markdown("# 3. VAEs\n\ntext 3. here", first=True) == \
        "# VAEs\n\ntext 3. here"
    assert markup.convert_markdown("# 3. VAEs", first=False) == "# 3. VAEs"


def test_font_awesome_link_of_animation_outputs_is_dropped():
    html = ('<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/'
            'css/font-awesome.min.css">\n<div class="anim">player</div>')
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# 2. GANs\n"]},
                          {"cell_type": "code", "source": "", "outputs": [
                              {"output_type": "display_data", "data": {"text/html": [html]}}]}]}
    out = json.loads(markup.convert_notebook(json.dumps(notebook)))
    assert out["cells"][0]["source"] == "# GANs\n"
    assert out["cells"][1]["outputs"][0]["data"]["text/html"] == '<div class="anim">player</div>'


def test_every_committed_solution_converts():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = markup.convert_notebook(path.read_text())
        assert "<details" not in text and text.count("{solution}") >= 4, path.name
