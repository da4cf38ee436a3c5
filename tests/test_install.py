"""`pip install -r requirements.txt` alone is enough to run the app, as on a hosted platform (slow: a fresh venv)."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

APP_CHECK = """
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from tests.helpers.later_request import after_first_request
PagesManager.__init__ = after_first_request(PagesManager.__init__)
app = AppTest.from_file("streamlit_app.py", default_timeout=300)
app.switch_page("pages/inpaint.py")
app.run()
app.segmented_control(key="source").set_value("Example photo").run()
app.segmented_control(key="mask_kind").set_value("center").run()
app.slider(key="iterations").set_value(10).run()
app.button[-1].click().run()
assert not app.exception, app.exception
assert app.subheader[0].value == "Result", [e.value for e in app.error]
done = app.session_state["result"]["face"]
assert done.pasted.shape == (512, 512, 3)
print("aligned and filled the example photo")
"""


@pytest.mark.slow
def test_requirements_alone_align_and_fill_the_example_photo(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    start = time.perf_counter()
    # --no-compile: Python compiles what the check imports as it goes, not all of TensorFlow's files first.
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
                              "-r", str(ROOT / "requirements.txt")], capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stderr[-3000:]
    print(f"fresh venv from requirements.txt alone: {time.perf_counter() - start:.0f} s")
    check = subprocess.run([python, "-c", APP_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-3000:]
    assert "aligned and filled the example photo" in check.stdout
