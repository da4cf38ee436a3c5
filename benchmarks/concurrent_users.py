"""N browser sessions ask for a fill at once: are they served in order, told their place, how long do they wait?

And how much memory does the server take?

python -m benchmarks.concurrent_users [--users 8] [--against OTHER_CHECKOUT]

Starts the app on a free loopback port and drives Debian's Chromium with Playwright (as the browser tests do). A user is
served when their first fill is on screen. --against then runs the same crowd on another checkout of the app (e.g.
`git worktree add /tmp/before COMMIT`), after this one's, and prints the time to the last user served as a ratio to it.
"""
from __future__ import annotations

import time
from pathlib import Path

from tests.helpers.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, peak_rss_mib, serve_app
from core.cli import argument_parser


def crowd(browser, root: Path, users: int) -> list[float | None]:
    """Start the app in root, have users ask for a fill of a random face at once, and print how they were served;
    returns the seconds each waited for their first fill (None: not served in 10 minutes)."""
    with serve_app(None, root=root) as (url, server):
        pages = []
        for _ in range(users):
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
        done: list[float | None] = [None] * len(pages)
        told = [False] * len(pages)  # shown their place in line while they waited
        deadline = time.perf_counter() + 600
        while None in done and time.perf_counter() < deadline:
            for i, page in enumerate(pages):
                if done[i] is not None:
                    continue
                if page.get_by_text("Total loss").count():
                    done[i] = time.perf_counter() - start
                elif not told[i]:
                    told[i] = bool(page.get_by_text("ahead of you").count() + page.get_by_text("you are next").count())
            time.sleep(0.1)
        for page in pages:
            page.context.close()
        peak = peak_rss_mib(server.pid)
    finished = [round(t, 1) for t in done if t is not None]
    print(f"{root}: {users} users: {len(finished)} served, finished at {finished} s")
    print(f"  served in the order they asked: {finished == sorted(finished) and len(finished) == len(done)}")
    print(f"  waiting users shown their place: {sum(told[1:])} of {users - 1}")
    print(f"  server peak RSS: {peak:.0f} MiB", flush=True)
    return done


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="browser sessions that fill at once")
    parser.add_argument("--against", type=Path, default=None, help="another checkout of the app to compare with")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ours = crowd(browser, ROOT, args.users)
        theirs = crowd(browser, args.against.resolve(), args.users) if args.against else None
        browser.close()
    if theirs is not None and None not in ours and None not in theirs:
        print(f"the last user served after {max(ours):.1f} s, {max(ours) / max(theirs):.2f}x the other's "
              f"{max(theirs):.1f} s")


if __name__ == "__main__":
    main()
