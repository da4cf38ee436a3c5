"""Seconds from the click on "Fill the hole" to the result, in the real app in Chromium: the example photo, the centre
mask, the page's defaults. The first fill on a fresh server, then fills in new tabs on the warm server. Each is timed
twice: to the first fill on screen ("Total loss"), and to all the fills to pick from ("Your pick").

python -m benchmarks.click_to_result [--fills 1] [--tabs 3] [--against OTHER_CHECKOUT] [--think 40]

--against runs the same clicks on another checkout of the app (e.g. `git worktree add /tmp/before COMMIT`), the two
servers taking turns, and prints this checkout's times as ratios to it. Each server starts just before its first fill,
so neither first fill shares the machine with the other server's start. --fills sets the page's "Fills to choose
from" slider (where the page has one). --think makes the first user wait that many seconds, once the hole is shown,
before the first click on a fresh server: as a person would, while the model warms up.
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from tests.helpers.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, serve_app, settle
from core.cli import argument_parser


def one_fill(browser, url: str, fills: int | None, think: float = 0.0) -> tuple[float, float]:
    """Open the Inpaint page in a new tab, take the example photo and the centre mask, wait think seconds, click fill:
    seconds to the first fill on screen and to all of them."""
    page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    page.goto(f"{url}/inpaint")
    page.get_by_text("Example photo", exact=True).click()
    page.get_by_text("center", exact=True).click()
    page.get_by_text("What the model gets to see").wait_for(timeout=120_000)
    settle(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Fills to choose from").locator("input[type=range]")
    if fills is not None and slider.count():
        while (now := int(float(slider.input_value()))) != fills:
            slider.focus()  # a rerun can take the focus away
            page.keyboard.press("ArrowLeft" if now > fills else "ArrowRight")
            settle(page, quiet_s=0.5)
    time.sleep(think)
    start = time.perf_counter()
    page.get_by_role("button", name="Fill the hole").click()
    page.get_by_text("Total loss").wait_for(timeout=300_000)
    first = time.perf_counter() - start
    if fills != 1:
        page.get_by_text("Your pick").wait_for(timeout=300_000)
    every = time.perf_counter() - start
    page.context.close()
    return first, every


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=None, help="fills to choose from (default: the page's own)")
    parser.add_argument("--tabs", type=int, default=3, help="fills in new tabs on the warm server, after the first")
    parser.add_argument("--against", type=Path, default=None, help="another checkout of the app to compare with")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds the first user waits before the first click on a fresh server")
    args = parser.parse_args()
    roots = {"this checkout": ROOT, **({str(args.against): args.against.resolve()} if args.against else {})}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in roots}
    with ExitStack() as servers, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        urls: dict[str, str] = {}
        for _ in range(1 + args.tabs):  # the apps take turns, so a slower minute of the machine hits both
            for name, root in roots.items():
                if name not in urls:
                    urls[name] = servers.enter_context(serve_app(None, root=root))[0]
                think = args.think if not times[name] else 0.0
                times[name].append(one_fill(browser, urls[name], args.fills, think))
        browser.close()
    baseline = times.get(str(args.against))
    for name, each in times.items():
        for shown, column in (("first fill on screen", 0), ("all fills", 1)):
            first, warm = each[0][column], float(np.median([t[column] for t in each[1:]]))
            line = f"{name:<24} {shown:<20} first click {first:5.2f} s, warm (median of {len(each) - 1} tabs) " \
                   f"{warm:5.2f} s, first/warm {first / warm:.2f}"
            if baseline is not None and each is not baseline:
                line += f"; {first / baseline[0][1]:.2f}x and " \
                        f"{warm / float(np.median([t[1] for t in baseline[1:]])):.2f}x the other's time to all its fills"
            print(line, flush=True)

if __name__ == "__main__":
    main()
