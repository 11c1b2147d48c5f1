"""Repository-wide pytest hooks.

nbval (``pytest --nbval-lax notebooks/``) compares the outputs of cells marked
``# NBVAL_CHECK_OUTPUT``; TensorFlow writes log lines to stderr that vary from run to run, so
stderr streams are left out of the comparison.
"""


def pytest_collectstart(collector):
    if collector.__class__.__name__ == "IPyNbFile":
        collector.skip_compare = (*collector.skip_compare, "stderr")
