"""Repository-wide pytest hooks.

nbval (``pytest --nbval-lax notebooks/``) compares the outputs of cells marked
``# NBVAL_CHECK_OUTPUT``; TensorFlow writes log lines to stderr that vary from run to run, so
stderr streams are left out of the comparison. The seconds each notebook took under nbval
are summed and printed at the end (the smoke budget is per notebook and environment).
"""

from collections import defaultdict

NBVAL_SECONDS: dict[str, float] = defaultdict(float)


def pytest_collectstart(collector):
    if collector.__class__.__name__ == "IPyNbFile":
        collector.skip_compare = (*collector.skip_compare, "stderr")


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        NBVAL_SECONDS[path.rsplit("/", 1)[-1]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if NBVAL_SECONDS:
        terminalreporter.section("notebooks under nbval (IMGUTILS_PROFILE=smoke), seconds")
        for name, seconds in sorted(NBVAL_SECONDS.items()):
            terminalreporter.write_line(f"{name:<40} {seconds:6.1f} s")
