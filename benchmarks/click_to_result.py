"""Seconds from the click on "Fill the hole" to the result, in the real app in Chromium: the example photo, the centre
mask, the page's defaults. The first fill on a fresh server, then fills in new tabs on the warm server.

python -m benchmarks.click_to_result [--fills 1] [--tabs 3] [--against OTHER_CHECKOUT]

--against runs the same clicks on another checkout of the app (e.g. `git worktree add /tmp/before COMMIT`) in
the same process, and prints this checkout's times as ratios to it. --fills sets the page's "Fills to choose
from" slider (where the page has one).
"""
from __future__ import annotations

import time
from pathlib import Path

from benchmarks.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, serve_app, settle
from core.cli import argument_parser


def one_fill(browser, url: str, fills: int | None) -> float:
    """Open the Inpaint page in a new tab, take the example photo and the centre mask, click fill: seconds to the result."""
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
    start = time.perf_counter()
    page.get_by_role("button", name="Fill the hole").click()
    page.get_by_text("Total loss").wait_for(timeout=300_000)
    seconds = time.perf_counter() - start
    page.context.close()
    return seconds


def app_times(root: Path, fills: int | None, tabs: int) -> list[float]:
    """The first fill on a fresh server of the app in root, then one in each of tabs new tabs."""
    from playwright.sync_api import sync_playwright

    with serve_app(None, root=root) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        times = [one_fill(browser, url, fills) for _ in range(1 + tabs)]
        browser.close()
    return times


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=None, help="fills to choose from (default: the page's own)")
    parser.add_argument("--tabs", type=int, default=3, help="fills in new tabs on the warm server, after the first")
    parser.add_argument("--against", type=Path, default=None, help="another checkout of the app to compare with")
    args = parser.parse_args()
    runs = {"this checkout": app_times(ROOT, args.fills, args.tabs)}
    if args.against is not None:
        runs[f"{args.against}"] = app_times(args.against.resolve(), args.fills, args.tabs)
    baseline = runs.get(str(args.against))
    for name, times in runs.items():
        first, warm = times[0], sorted(times[1:])[len(times[1:]) // 2]
        line = f"{name:<24} first fill {first:5.2f} s, warm (median of {len(times) - 1} tabs) {warm:5.2f} s, " \
               f"first/warm {first / warm:.2f}"
        if baseline is not None and times is not baseline:
            base_warm = sorted(baseline[1:])[len(baseline[1:]) // 2]
            line += f"; {first / baseline[0]:.2f}x and {warm / base_warm:.2f}x the other's"
        print(line, flush=True)


if __name__ == "__main__":
    main()
