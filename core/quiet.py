"""Keep TensorFlow's and MediaPipe's native start-up lines out of the command-line tools' output.

Their C++ code logs to file descriptor 2 before absl's logging is set up, where TF_CPP_MIN_LOG_LEVEL does
not reach: "All log messages before absl::InitializeLog()...", oneDNN's notice, the CPU feature note, a
grappler remapper error that changes nothing, MediaPipe's and TensorFlow Lite's notices. A user reads them as
failures. filter_native_logs() sends descriptor 2 through a filter that drops exactly those lines and
passes every other line on; Python's own sys.stderr (tracebacks, warnings) bypasses the filter.
FACEFILL_VERBOSE=1 leaves descriptor 2 alone.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard|inference_feedback_manager|face_landmarker_graph"
    r"|gl_context|landmark_projection_calculator)\.cc:\d+\]"
    r"|E\d{4} [\d:.]+ +\d+ meta_optimizer\.cc:\d+\] remapper failed"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
)
_installed = False


def is_noise(line: str) -> bool:
    """Is this one of the known native start-up lines that say nothing to a user?"""
    return NOISE.match(line) is not None


def filter_native_logs() -> None:
    """Send descriptor 2 through the filter (once per process); Python's sys.stderr writes straight through."""
    global _installed
    if _installed or os.environ.get("FACEFILL_VERBOSE"):
        return
    _installed = True
    sys.stderr.flush()
    terminal = os.dup(2)
    sys.stderr = open(os.dup(terminal), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def relay() -> None:
        with open(read_end, "rb") as native:
            for line in native:
                if not is_noise(line.decode(errors="replace")):
                    os.write(terminal, line)

    thread = threading.Thread(target=relay, name="native-log-filter", daemon=True)
    thread.start()

    def drain() -> None:
        """At exit: end the pipe (descriptor 2 back to the terminal) and pass on what is still in it."""
        os.dup2(terminal, 2)
        thread.join(timeout=2)

    atexit.register(drain)
