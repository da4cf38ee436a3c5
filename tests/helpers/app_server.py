"""The real app on a free loopback port and Debian's Chromium to drive it: for the browser tests, the benchmarks
that click through the app (click_to_result, concurrent_users) and scripts/check_demo.py."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's, never a browser Playwright downloads
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024


@contextmanager
def serve_app(env: dict[str, str] | None = None, *options: str, root: Path = ROOT
              ) -> Iterator[tuple[str, subprocess.Popen]]:
    """(url, server process) of `streamlit run streamlit_app.py` in root (another checkout, to compare) with these
    extra options, once /_stcore/health answers; stopped on exit. Raises RuntimeError with the server's last output
    if it does not start in 60 s."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", *options],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            server.kill()
            raise RuntimeError("the app did not start:\n" + server.stdout.read().decode(errors="replace")[-3000:])
        yield url, server
    finally:
        if server.poll() is None:
            server.terminate()  # a model's warm-up finishes the step in progress first (seconds on a busy machine)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                raise


def sidebar_entries(page) -> list[str]:
    """The app's navigation entries in the sidebar of a Playwright page, in order."""
    labels = page.locator('[data-testid="stSidebarNavLink"] [data-testid="stMarkdownContainer"]')
    labels.first.wait_for(timeout=60_000)
    return [text.strip() for text in labels.all_inner_texts()]


def settle(page, quiet_s: float = 1.0, timeout_s: float = 90) -> None:
    """Wait until the app's script has stayed idle for quiet_s: one click can start several reruns (a new
    face makes a new canvas, which reports back), and a click that lands mid-rerun can be lost."""
    app = page.locator('[data-testid="stApp"]')
    deadline, quiet_since = time.time() + timeout_s, None
    while time.time() < deadline:
        if app.get_attribute("data-test-script-state") == "notRunning":
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        time.sleep(0.05)
    raise AssertionError("the app was still running its script")
