"""N browser sessions ask for a completion at the same moment: are they served in order, told their place, and
how much memory does the server take?

python -m benchmarks.concurrent_users [--users 8]

Starts the app on a free loopback port and drives Debian's Chromium with Playwright (as the browser tests do).
"""
from __future__ import annotations

import time

from tests.helpers.app_server import CHROMIUM, CHROMIUM_ARGS, peak_rss_mib, serve_app
from core.cli import argument_parser


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="browser sessions that fill at once")
    args = parser.parse_args()
    with serve_app() as (url, server), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for _ in range(args.users):
            page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
            page.goto(f"{url}/inpaint")
            page.get_by_text("Random face", exact=True).click()
            page.get_by_text("center", exact=True).click()
            page.get_by_text("What the model gets to see").wait_for(timeout=60_000)
            pages.append(page)
        start = time.perf_counter()
        for page in pages:
            page.get_by_role("button", name="Fill the hole").click()
            time.sleep(0.3)
        told = sum(bool(page.get_by_text("ahead of you").count() + page.get_by_text("you are next").count())
                   for page in pages[1:])
        done: list[float | None] = [None] * len(pages)
        deadline = time.perf_counter() + 600
        while None in done and time.perf_counter() < deadline:
            for i, page in enumerate(pages):
                if done[i] is None and page.get_by_text("Total loss").count():
                    done[i] = time.perf_counter() - start
            time.sleep(0.1)
        browser.close()
        peak = peak_rss_mib(server.pid)
    finished = [round(t, 1) for t in done if t is not None]
    print(f"{args.users} users: {len(finished)} served, finished at {finished} s")
    print(f"served in the order they asked: {finished == sorted(finished) and len(finished) == len(done)}")
    print(f"waiting users shown their place: {told} of {args.users - 1}")
    print(f"server peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
