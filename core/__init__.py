"""FaceFill core: the DCGAN, face alignment and the completion optimiser.

Plain Python and TensorFlow; nothing here imports Streamlit.
"""
import os
import sys

# oneDNN roughly halves step times on the AMD CPUs we run on, but TensorFlow
# leaves it off there; it must be set before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if sys.argv[:1] == ["-m"]:  # a command-line tool (python -m core.NAME), not the app or the tests
    from core.quiet import filter_native_logs

    filter_native_logs()
