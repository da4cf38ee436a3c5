"""A person's path through the app, in a real headless Chromium (Debian's, never a downloaded one)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from PIL import Image

from tests.helpers.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, peak_rss_mib, serve_app, settle, sidebar_entries

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


class AppURL(str):
    """The app's address, carrying the server's pid (to read its memory use) and its runs folder."""

    server_pid: int
    runs: Path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser):
    """The real app on a free loopback port, with short completions so the test is quick; opened once, so the
    first test does not wait on a cold server (its first page imports TensorFlow and loads the model: past a click's
    30 s on a busy 2-core machine)."""
    runs = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "FACEFILL_MAX_ITERATIONS": "60", "FACEFILL_RUNS": str(runs)}
    # The shipped config hides error details from users; the tests must see any uncaught exception.
    with serve_app(env, "--client.showErrorDetails", "full") as (address, server):
        first = browser.new_page()
        first.goto(f"{address}/inpaint")
        first.get_by_text("Example photo", exact=True).wait_for(timeout=300_000)
        first.close()
        url = AppURL(address)
        url.server_pid = server.pid
        url.runs = runs
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def record_sent(page) -> list[str]:
    """The kinds of message (Streamlit's BackMsg) the page sends its server, from its next page load on."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    sent: list[str] = []

    def on_socket(socket) -> None:
        socket.on("framesent", lambda payload: sent.append(BackMsg.FromString(payload).WhichOneof("type"))
                  if isinstance(payload, bytes) else None)

    page.on("websocket", on_socket)
    return sent


def download_image(page, sent: list[str], button: str) -> np.ndarray:
    """Click a download button and read the image it downloads.

    The click must not rerun the page: a rerun unregisters the file's encoder, and another user's run ending just
    then made the download fail (seen with four users at once)."""
    before = len(sent)
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    assert "backend_operation_request" in sent[before:]  # the recorder saw the click ask for the file...
    assert "rerun_script" not in sent[before:], f"downloading {button!r} reran the page"  # ...and nothing more
    return np.asarray(Image.open(download.value.path()).convert("RGB"))


CANVAS = "canvas.facefill-mask-canvas"  # pages/mask_canvas.js


def paint(page, box: dict, stroke: list[tuple[float, float]]) -> None:
    """Drag the mouse along stroke, points given as fractions of the canvas's box."""
    page.mouse.move(box["x"] + box["width"] * stroke[0][0], box["y"] + box["height"] * stroke[0][1])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=2)
    page.mouse.up()


def model_hole(page, scale: int = 4) -> np.ndarray:
    """The hole the model gets, (size, size) bool, read from the page's 'What the model gets to see' (grey = hole,
    each model pixel shown scale x scale)."""
    import io

    image = page.get_by_test_id("stImage").filter(has_text="What the model gets to see").locator("img")
    source = urljoin(page.url, image.get_attribute("src"))
    seen = np.asarray(Image.open(io.BytesIO(page.request.get(source).body())).convert("RGB"))
    return (seen[scale // 2 :: scale, scale // 2 :: scale] == 128).all(axis=2)


def test_draw_on_the_photo_pick_a_fill_and_download_it(app_url, browser, tmp_path):
    """Paint a stroke on the example photo (zoomed to its face), fill, pick the third fill, download the photo:
    only the painted pixels change, where they were painted on the screen."""
    from core.align import FaceAligner
    from core.images import read_image
    from core.photo_mask import face_view
    from core.weights import read_model_json

    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    sent = record_sent(page)
    start = time.perf_counter()
    page.goto(f"{app_url}/inpaint")
    page.get_by_text("Example photo", exact=True).click()
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=60_000)
    print(f"inpaint page with the example photo: {time.perf_counter() - start:.1f} s")

    box = canvas.bounding_box()
    stroke = [(0.35 + 0.03 * i, 0.55 + 0.005 * i) for i in range(11)]  # across the mouth, inside the frame
    paint(page, box, stroke)

    page.get_by_text("What the model gets to see").wait_for(timeout=30_000)  # the stroke became a mask
    fill = page.get_by_role("button", name="Fill the hole")
    start = time.perf_counter()
    fill.click()
    page.get_by_text("Total loss").wait_for(timeout=120_000)
    print(f"first fill shown after {time.perf_counter() - start:.1f} s")
    page.get_by_text("Your pick").wait_for(timeout=120_000)  # the other fills, made while the first was on screen
    print(f"all fills shown after {time.perf_counter() - start:.1f} s")
    page.get_by_text("Pasted back into the photo").wait_for(timeout=10_000)
    page.get_by_role("button", name="Completion (PNG)").wait_for(timeout=10_000)

    first = download_image(page, sent, "Photo (PNG)")
    page.get_by_text("Fill 3", exact=True).last.click()  # pick another of the four fills (after their captions)
    settle(page)
    photo = download_image(page, sent, "Photo (PNG)")
    original = read_image(ROOT / "examples" / "astronaut.jpg")
    assert photo.shape == first.shape == original.shape
    # The pixels either fill changed: a hole pixel a fill happens to give its original value is still the hole's.
    changed_first, changed_pick = ((image != original).any(axis=2) for image in (first, photo))
    changed = changed_first | changed_pick
    assert 0 < changed.mean() < 0.02  # only the stroke's pixels, at full size
    assert (changed_first & changed_pick).sum() > 0.95 * changed.sum()  # the same hole
    assert np.abs(photo.astype(int) - first)[changed].mean() > 1  # the pick's own fill, not the first one
    # Where it changed is where the stroke was painted on the screen (its box, widened by the 24 px brush).
    size = read_model_json(ROOT / "weights")["config"].image_size  # the app's model
    with FaceAligner() as aligner:
        view = face_view(original.shape, aligner.align(original, size), size, shown_width=int(box["width"]))
    per_screen_px = view.width / box["width"]
    xs = [view.left + x * view.width for x, _ in stroke]
    ys = [view.top + y * view.height for _, y in stroke]
    reach = 12 * per_screen_px + 3
    rows, cols = np.where(changed)
    assert min(xs) - reach <= cols.min() and cols.max() <= max(xs) + reach
    assert min(ys) - reach <= rows.min() and rows.max() <= max(ys) + reach
    assert cols.max() - cols.min() > 0.8 * (max(xs) - min(xs))  # and all along it
    page.get_by_text("Before", exact=True).click()  # the before/after toggle
    page.get_by_text("The photo before").wait_for(timeout=10_000)
    shots = Path(os.environ.get("FACEFILL_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "inpaint-completed.png"), full_page=True)
    page.close()


def test_paint_and_erase_on_a_phone(app_url, browser):
    """On a phone's screen the canvas fits the page, a stroke lands in the model's frame where the finger put it,
    and the eraser takes pixels out of the hole: the model gets the painted stroke less the erased one."""
    from core.align import FaceAligner
    from core.images import read_image
    from core.photo_mask import face_view
    from core.weights import read_model_json

    width = 390
    page = browser.new_page(viewport={"width": width, "height": 844}, device_scale_factor=2, is_mobile=True,
                            has_touch=True)
    page.goto(f"{app_url}/inpaint")
    page.get_by_text("Example photo", exact=True).click()
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=60_000)
    settle(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width  # the whole photo can be painted
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width  # and nothing runs off the side

    stroke = [(0.30 + 0.04 * i, 0.56) for i in range(11)]  # across the mouth
    paint(page, box, stroke)
    page.get_by_text("What the model gets to see").wait_for(timeout=30_000)
    settle(page)
    painted = model_hole(page)
    page.get_by_text("Eraser", exact=True).click()
    settle(page)
    box = canvas.bounding_box()
    paint(page, box, [(0.5, 0.45), (0.5, 0.67)])  # a cut through its middle
    settle(page)
    erased = model_hole(page)

    # Where the strokes were put on the screen, in the model's frame.
    size = read_model_json(ROOT / "weights")["config"].image_size
    original = read_image(ROOT / "examples" / "astronaut.jpg")
    with FaceAligner() as aligner:
        alignment = aligner.align(original, size)
    view = face_view(original.shape, alignment, size, shown_width=640, max_shown_height=640)

    def in_model(x: float, y: float) -> np.ndarray:
        return alignment.matrix @ np.array([view.left + x * view.width, view.top + y * view.height, 1.0])

    brush = 24 / 2 * view.width / view.shown_width / alignment.photo_per_model  # the brush's radius, in model px
    rows, cols = np.where(painted)
    ends = np.array([in_model(*stroke[0]), in_model(*stroke[-1])])
    assert abs(cols.min() - ends[0, 0]) <= brush + 2 and abs(cols.max() - ends[1, 0]) <= brush + 2
    assert abs(rows.mean() - ends[:, 1].mean()) <= 3
    removed = painted & ~erased
    assert not (erased & ~painted).any()  # erasing never adds to the hole
    assert removed.sum() > 0.1 * painted.sum()
    cut_x = in_model(0.5, 0.56)[0]
    assert np.abs(np.where(removed)[1] - cut_x).max() <= brush + 2  # only along the cut...
    assert (np.where(erased)[1] < cut_x - brush).any() and (np.where(erased)[1] > cut_x + brush).any()  # ...both sides stay
    page.close()


def test_every_page_fits_a_phone(app_url, browser):
    """At 360 px nothing runs off the side of any page, and the Explore page's faces stay large enough to tell apart."""
    page = browser.new_page(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True)
    for path in ("", "inpaint", "train", "explore"):  # Explore last: its faces are measured below
        page.goto(f"{app_url}/{path}")
        page.locator("h1").first.wait_for(timeout=60_000)
        settle(page)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360, path
    faces = page.get_by_test_id("stImage").locator("img")
    faces.first.wait_for(timeout=60_000)
    boxes = [faces.nth(i).bounding_box() for i in range(24)]  # the grid of random faces
    assert min(box["width"] for box in boxes) >= 64
    assert max(box["x"] + box["width"] for box in boxes) <= 360
    page.close()

def known_pixels_match(completion: np.ndarray, face: np.ndarray, mask) -> bool:
    """Every known pixel is the face's own (the blend never changes one)."""
    return bool(np.array_equal(completion[~mask.fill], face[~mask.fill]))


def test_four_sessions_at_once_each_get_their_own_result(app_url, browser):
    """Four users complete at once on one server; each result is built from that user's own face and mask."""
    from core.align import FaceAligner
    from core.images import read_image, to_uint8
    from core.masks import preset_mask
    from core.model import sample_z
    from core.weights import load_model

    model = load_model(ROOT / "weights")
    size = model.config.image_size
    with FaceAligner() as aligner:
        example = aligner.align(read_image(ROOT / "examples" / "astronaut.jpg"), size).face
    def random_face(n):
        return to_uint8(model.generator(sample_z(1, model.config.z_dim, seed=1000 + n), training=False).numpy()[0])
    users = [("Example photo", 0, "center"), ("Example photo", 0, "left"), ("Random face", 0, "center"), ("Random face", 2, "left")]

    pages, sents = [], []
    for source, clicks, mask in users:
        page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
        sents.append(record_sent(page))
        page.goto(f"{app_url}/inpaint")
        page.get_by_text(source, exact=True).click()
        settle(page)
        for _ in range(clicks):
            page.get_by_role("button", name="Another face").click()
            settle(page)
        page.get_by_text(mask, exact=True).click()
        page.get_by_text("What the model gets to see").wait_for(timeout=60_000)
        pages.append(page)
    for page in pages:  # all four now run (or queue) on the server at the same time
        page.get_by_role("button", name="Fill the hole").click()

    results = []
    for page, sent, (source, clicks, mask_name) in zip(pages, sents, users):
        page.get_by_text("Your pick").wait_for(timeout=180_000)  # all the fills to pick from: the page is done
        completion = download_image(page, sent, "Completion (PNG)")
        face = example if source == "Example photo" else random_face(clicks)
        assert known_pixels_match(completion, face, preset_mask(mask_name, size)), f"{source}/{mask_name} got another user's pixels"
        results.append(completion)
        page.context.close()
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            assert not np.array_equal(results[i], results[j])

    peak = peak_rss_mib(app_url.server_pid)
    print(f"server peak RSS after 4 concurrent sessions: {peak:.0f} MiB")
    assert peak < 4 * 1024


def test_watch_stop_and_resume_a_training_run(app_url, browser, synthetic_faces, tiny_job_args):
    """A background run shows live loss curves and samples on the Train page; Stop and Resume work there."""
    from core import jobs
    from core.train import read_metrics

    run = app_url.runs / "tiny"
    jobs.start(run, synthetic_faces, steps=100_000, **tiny_job_args)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    try:
        page.goto(f"{app_url}/train")
        page.get_by_text("Running", exact=True).wait_for(timeout=60_000)
        # The fragment redraws the chart every 5 s: read the curves' names in the same look that finds them drawn
        # (a second look could find the next chart before plotly has given it data).
        names = page.wait_for_function(
            "() => { const data = document.querySelector('.js-plotly-plot')?.data;"
            " return data?.every(t => t.x.length >= 3) && data.map(t => t.name); }",
            timeout=120_000,
        ).json_value()
        assert names == ["d_loss_real", "d_loss_fake", "g_loss"]
        page.get_by_text("Samples from a fixed z at step").wait_for(timeout=30_000)

        page.get_by_role("button", name="Stop").click()
        page.get_by_text("Stopped", exact=True).wait_for(timeout=60_000)
        assert not jobs.status(run).running
        # the last logged step, not the checkpoint: a row logged after the last checkpoint is already on the chart
        stopped_at = max(row["step"] for row in read_metrics(run))

        page.get_by_role("button", name="Resume").click()
        page.get_by_text("Running", exact=True).wait_for(timeout=60_000)
        page.wait_for_function(  # new points past the stop
            f"() => document.querySelector('.js-plotly-plot')?.data?.[2]?.x.at(-1) > {stopped_at}", timeout=120_000
        )
        assert "resumed from step" in (run / jobs.LOG_FILE).read_text()  # the whole log: the tail scrolls fast
    finally:
        page.close()
        jobs.stop(run)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("random.jpg", np.random.default_rng(1).bytes(4000), "is not a readable image"),
        ("blank.png", None, "No face was found"),
        ("empty.jpg", b"", "is empty"),
        ("tiny.png", None, "a face to fill must be at least 40 px tall"),
        ("under the limit.jpg", b"\xff" * (19 * 2**20), "is not a readable image"),  # the size passes, the bytes do not
    ],
    ids=["random bytes", "no face", "empty file", "photo too small", "just under the size limit"],
)
def test_bad_upload_shows_a_message(app_url, browser, name, content, message):
    if content is None:
        buffer = __import__("io").BytesIO()
        side = 20 if name == "tiny.png" else 300
        Image.new("RGB", (side, side), (120, 160, 200)).save(buffer, format="PNG")
        content = buffer.getvalue()
    page = browser.new_page()
    page.goto(f"{app_url}/inpaint")
    page.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": "image/jpeg", "buffer": content}])
    page.get_by_text(message).wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0  # no uncaught exception was shown
    page.close()


def test_the_uploader_states_the_limit_it_enforces(app_url, browser):
    """The photo uploader says the server's limit (FACEFILL_MAX_UPLOAD_MB, 20 by default) and refuses a file over it."""
    page = browser.new_page()
    page.goto(f"{app_url}/inpaint")
    uploader = page.get_by_test_id("stFileUploader")
    uploader.get_by_text("20MB per file").wait_for(timeout=60_000)
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff" * (21 * 2**20)}])
    uploader.get_by_text("File must be 20.0MB or smaller").wait_for(state="attached", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()

def test_move_a_slider_on_an_uploaded_photo(app_url, browser, tmp_path):
    """Upload a photo on the Explore page, move the first direction's slider, download the edited photo."""
    from core.images import read_image

    page = browser.new_page(viewport={"width": 1280, "height": 2400})
    sent = record_sent(page)
    page.goto(f"{app_url}/explore")
    page.get_by_text("Your photo", exact=True).click()
    page.locator("input[type=file]").set_input_files(str(ROOT / "examples" / "astronaut.jpg"))
    page.get_by_text("G tuned to it").wait_for(timeout=120_000)
    settle(page)
    unedited = download_image(page, sent, "Edited photo (PNG)")
    original = read_image(ROOT / "examples" / "astronaut.jpg")
    assert np.abs(unedited.astype(int) - original).max() <= 1  # every slider at 0: the photo comes back

    thumb = page.locator('[data-testid="stSlider"] input[type=range]').first
    deadline = time.time() + 90
    while float(thumb.input_value()) < 2.0 and time.time() < deadline:  # steps of 0.25, each rerunning the edit
        thumb.focus()  # a rerun can take the focus away, as it would from a person's keyboard
        page.keyboard.press("ArrowRight")
        settle(page, quiet_s=0.5)
    assert float(thumb.input_value()) == 2.0
    edited = download_image(page, sent, "Edited photo (PNG)")
    changed = np.abs(edited.astype(int) - original).max(axis=2) > 2
    assert edited.shape == original.shape and 0.005 < changed.mean() < 0.2  # the face moved, the rest did not
    assert page.locator('[data-testid="stException"]').count() == 0
    shots = Path(os.environ.get("FACEFILL_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "explore-edited.png"), full_page=True)
    page.close()


SIDEBAR = ["How it works", "Inpaint", "Explore latent space", "Train"]


def settled_sidebar(page) -> list[str]:
    page.wait_for_timeout(1000)  # a later navigation message would replace the first
    return sidebar_entries(page)


@pytest.mark.parametrize("first_path", ["", "/inpaint"])
def test_sidebar_on_a_fresh_server(browser, first_path):
    """The pages live in pages/, which Streamlit also reads as its old folder navigation until st.navigation
    has run once: the very first request, even a deep link, must show the app's four entries and its page."""
    with serve_app(None, "--client.showErrorDetails", "full") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(f"{url}{first_path}")
        page.get_by_role("heading", name="Inpaint" if first_path else "FaceFill").first.wait_for(timeout=60_000)
        assert settled_sidebar(page) == SIDEBAR
        page.get_by_role("link", name="Explore latent space").click()
        page.wait_for_url(f"{url}/explore", timeout=30_000)
        assert settled_sidebar(page) == SIDEBAR
        page.get_by_role("heading", name="Explore latent space").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="How it works").click()
        page.get_by_role("heading", name="FaceFill").first.wait_for(timeout=60_000)
        assert settled_sidebar(page) == SIDEBAR
        page.close()
