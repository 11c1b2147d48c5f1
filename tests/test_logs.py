import subprocess
import sys

CHILD = """
from imgutils import logs
logs.quiet_tensorflow()
import keras, tensorflow as tf
logs.quiet_tensorflow()          # a second call changes nothing
tf.get_logger().warning("5 out of the last 5 calls to f triggered tf.function retracing.")
tf.get_logger().warning("a warning that must stay")
print("imported", tf.__version__)
"""


def test_tensorflow_imports_without_its_cpp_log_lines():
    """The oneDNN / CUDA / cpu_feature_guard lines of a plain import are gone from stderr."""
    plain = subprocess.run([sys.executable, "-c", "import tensorflow as tf; "
                            "tf.config.list_physical_devices('GPU')"],
                           capture_output=True, text=True, timeout=120)
    quiet = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                           timeout=120)
    assert quiet.returncode == 0 and "imported" in quiet.stdout
    assert "port.cc" in plain.stderr or "absl::InitializeLog" in plain.stderr  # noisy without
    for noise in ("absl::InitializeLog", "port.cc", "cuda", "I0000", "E0000", "retracing"):
        assert noise not in quiet.stderr, quiet.stderr
    assert "a warning that must stay" in quiet.stderr
