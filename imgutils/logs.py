"""Keep TensorFlow's C++ log lines out of the notebooks (and so out of the book).

At import, TensorFlow's native code writes a few lines straight to the process's stderr
(file descriptor 2): the oneDNN notice, CUDA driver probes, CPU-feature hints. They are
written before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them, and
Jupyter copies them into the notebook as red stderr output. ``quiet_tensorflow()`` imports
TensorFlow once with descriptor 2 pointed at ``/dev/null`` (Python exceptions still surface
as usual), and sets ``TF_CPP_MIN_LOG_LEVEL=3`` (unless you set it yourself) so the errors that
grappler logs and then recovers from ("remapper failed ...") stay out as well. TensorFlow's
Python notice that a ``tf.function`` was retraced (expected when a chapter trains several
small models in a row) is filtered out too; every other warning is shown as usual.

Turning oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``) also removes a line, but halves training
speed on CPUs: never do that to quiet the logs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

LOG_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at ``/dev/null`` inside the block (C/C++ writes vanish).

    Python's own ``sys.stderr`` is flushed first; in Jupyter it is a separate stream, so
    Python warnings and tracebacks are not affected.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:                     # no descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "... triggered tf.function retracing" warnings (and nothing else)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_tensorflow() -> None:
    """Import TensorFlow (and probe its devices) without its C++ start-up log lines.

    Call it before the first ``import keras`` / ``import tensorflow``; later calls do nothing.
    """
    os.environ.setdefault(LOG_LEVEL_VAR, "3")
    if "tensorflow" not in sys.modules:
        with native_stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")      # the CUDA probe logs here
    import tensorflow as tf

    logger = tf.get_logger()
    if not any(isinstance(f, _NoRetracingNotice) for f in logger.filters):
        logger.addFilter(_NoRetracingNotice())
