"""Check a running FaceFill demo the way a visitor meets it, in Debian's Chromium: the demo profile is on (the
sidebar has no Train page) and the example photo is filled; prints the fill's time from the click to the result.

python scripts/check_demo.py http://127.0.0.1:8501
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.app_server import CHROMIUM, CHROMIUM_ARGS, sidebar_entries  # noqa: E402
from core.cli import argument_parser  # noqa: E402

DEMO_SIDEBAR = ["How it works", "Inpaint", "Explore latent space"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("url", help="the running demo's address")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(f"{args.url}/inpaint")
        page.get_by_role("heading", name="Inpaint").first.wait_for(timeout=120_000)
        sidebar = sidebar_entries(page)
        print(f"sidebar: {sidebar}")
        if sidebar != DEMO_SIDEBAR:
            sys.exit(f"error: the demo profile is off: the sidebar lists {sidebar}, expected {DEMO_SIDEBAR}")
        page.get_by_text("Example photo", exact=True).click(timeout=120_000)
        page.get_by_text("center", exact=True).click(timeout=120_000)  # after the photo is aligned
        page.get_by_text("What the model gets to see").wait_for(timeout=120_000)
        start = time.perf_counter()
        page.get_by_role("button", name="Fill the hole").click()
        page.get_by_text("Pasted back into the photo").wait_for(timeout=300_000)
        print(f"filled the example photo: {time.perf_counter() - start:.1f} s from the click to the result")
        browser.close()


if __name__ == "__main__":
    main()
