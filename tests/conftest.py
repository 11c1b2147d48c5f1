import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion():
    from imgutils import data

    return data.fashion_mnist()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_terminal_summary(terminalreporter):
    from tests.test_notebooks import SMOKE_SECONDS

    if SMOKE_SECONDS:
        terminalreporter.section("notebook smoke runs (papermill, PROFILE='smoke')")
        for name, seconds in sorted(SMOKE_SECONDS.items()):
            terminalreporter.write_line(f"{name:<40} {seconds:6.1f} s")
