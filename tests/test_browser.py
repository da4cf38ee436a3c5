"""A person's path through the app, in a real headless Chromium (Debian's, never a downloaded one)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The real app on a free loopback port, with short completions so the test is quick."""
    port = free_port()
    env = {**os.environ, "FACEFILL_MAX_ITERATIONS": "60", "FACEFILL_RUNS": str(tmp_path_factory.mktemp("runs"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("the app did not start:\n" + server.stdout.read().decode(errors="replace")[-3000:])
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_draw_a_mask_and_get_a_completion(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    start = time.perf_counter()
    page.goto(f"{app_url}/inpaint")
    page.get_by_text("Example photo", exact=True).click()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=60_000)
    print(f"inpaint page with the example face: {time.perf_counter() - start:.1f} s")

    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.55)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.04 * i), box["y"] + box["height"] * 0.6, steps=2)
    page.mouse.up()

    page.get_by_text("What the model gets to see").wait_for(timeout=30_000)  # the stroke became a mask
    fill = page.get_by_role("button", name="Fill the hole")
    start = time.perf_counter()
    fill.click()
    page.get_by_text("Total loss").wait_for(timeout=120_000)
    print(f"completion shown after {time.perf_counter() - start:.1f} s")
    assert page.get_by_text("Pasted back into the photo").is_visible()
    assert page.get_by_role("button", name="Completion (PNG)").is_visible()
    shots = Path(os.environ.get("FACEFILL_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "inpaint-completed.png"), full_page=True)
    page.close()
