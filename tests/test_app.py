"""Every page through Streamlit's AppTest, with a tiny model (no browser)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from core.weights import read_model_json, save_model
from tests.helpers.later_request import after_first_request


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(monkeypatch, tiny_weights, tmp_path):
    """An AppTest of the entry point, with a tiny model and an empty runs folder; each run as a later request."""
    monkeypatch.setattr(PagesManager, "__init__", after_first_request(PagesManager.__init__))
    monkeypatch.setenv("FACEFILL_WEIGHTS", str(tiny_weights))
    monkeypatch.setenv("FACEFILL_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("FACEFILL_DATA_ROOTS", str(tmp_path / "data"))
    monkeypatch.setenv("FACEFILL_MAX_ITERATIONS", "20")
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.chdir(ROOT)
    test = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    yield test
    st.cache_resource.clear()


def page(app: AppTest, path: str) -> AppTest:
    app.switch_page(path)
    return app.run()


def messages(app: AppTest) -> str:
    return " ".join(e.value for e in [*app.error, *app.info, *app.warning, *app.success])


def test_home_explains_and_shows_samples(app, tiny_weights):
    app.run()
    assert not app.exception
    assert app.title[0].value == "FaceFill"
    size = read_model_json(tiny_weights)["config"].image_size  # the served model's size, not the first model's 64
    assert f"every {size}x{size} face" in " ".join(m.value for m in app.markdown)
    assert f"live in {3 * size * size:,} dimensions" in " ".join(m.value for m in app.markdown)
    assert len(app.get("plotly_chart")) == 2
    assert app.get("image")


def test_missing_weights_give_a_clear_message(app, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEFILL_WEIGHTS", str(tmp_path / "no-weights"))
    st.cache_resource.clear()
    for path in ("pages/home.py", "pages/inpaint.py", "pages/explore.py"):
        page(app, path)
        assert not app.exception
        assert "model.json is missing" in messages(app)


def test_inpaint_preset_mask_on_a_random_face(app):
    page(app, "pages/inpaint.py")
    assert "Upload a photo" in messages(app)
    app.segmented_control(key="source").set_value("Random face").run()
    assert not app.exception
    assert "Paint over the part of the face to fill" in messages(app)  # the canvas, nothing drawn yet
    app.segmented_control(key="mask_kind").set_value("center").run()
    app.button[-1].click().run()  # Fill the hole
    assert not app.exception
    assert app.subheader[0].value == "Result"
    assert "Total loss" in app.caption[0].value
    assert "result" in app.session_state


def test_inpaint_example_photo_is_aligned(app):
    page(app, "pages/inpaint.py")
    app.segmented_control(key="source").set_value("Example photo").run()
    app.segmented_control(key="mask_kind").set_value("strokes").run()
    app.button[-1].click().run()
    assert not app.exception
    assert app.subheader[0].value == "Result"
    done = app.session_state["result"]["face"]
    assert done.pasted.shape == (512, 512, 3)  # filled in the photo at its own size


def test_inpaint_step_size_follows_the_optimiser(app):
    page(app, "pages/inpaint.py")
    app.segmented_control(key="source").set_value("Random face").run()
    app.segmented_control(key="mask_kind").set_value("center").run()
    assert app.number_input(key="lr-adam").value == 0.03
    app.selectbox[0].set_value("hmc").run()
    field = app.number_input(key="lr-hmc")
    assert field.label.startswith("Leapfrog step") and field.value == 0.01
    app.button[-1].click().run()
    assert not app.exception and app.subheader[0].value == "Result"


def test_explore_face_algebra(app):
    page(app, "pages/explore.py")
    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    app.multiselect[0].set_value([]).run()
    assert "Pick at least one face for concept A" in messages(app)


def test_train_page_lists_only_allowed_folders(app, tmp_path):
    (tmp_path / "data" / "faces").mkdir(parents=True)
    page(app, "pages/train.py")
    assert not app.exception
    options = app.selectbox[0].options
    assert options and all(str(tmp_path / "data") in o for o in options)


def test_train_page_shows_paths_as_the_user_named_them(app, monkeypatch, tmp_path):
    """A root given through a symlink (as ../shared/data often is) is shown by its name, not its resolved target."""
    (tmp_path / "elsewhere" / "faces").mkdir(parents=True)
    (tmp_path / "shared-data").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setenv("FACEFILL_DATA_ROOTS", str(tmp_path / "shared-data"))
    st.cache_resource.clear()
    page(app, "pages/train.py")
    assert not app.exception
    assert app.selectbox[0].options == [str(tmp_path / "shared-data"), str(tmp_path / "shared-data" / "faces")]


def test_train_page_is_off_on_a_hosted_demo(app, monkeypatch):
    monkeypatch.setenv("FACEFILL_TRAINING", "0")
    st.cache_resource.clear()
    page(app, "pages/train.py")
    assert not app.exception
    assert app.title[0].value != "Train"  # the page is not registered, so it cannot be reached


def test_train_page_starts_a_background_run(app, tmp_path, synthetic_faces):
    import shutil
    import time

    from core import jobs

    data = tmp_path / "data" / "faces"
    shutil.copytree(synthetic_faces, data)
    page(app, "pages/train.py")
    app.selectbox[0].set_value(data)
    app.checkbox[0].uncheck()
    next(t for t in app.text_input if t.label == "Run name").input("smoke")
    app.number_input[0].set_value(10)
    next(b for b in app.button if b.label == "Start training").click().run()
    run = tmp_path / "runs" / "smoke"
    try:
        assert not app.exception
        assert "Training smoke" in messages(app)
        assert jobs.status(run).running
        assert app.selectbox[1].value == "smoke"  # the new run is listed and selected
    finally:
        jobs.stop(run)
        deadline = time.time() + 30
        while jobs.status(run).running and time.time() < deadline:
            time.sleep(0.2)


def test_a_new_checkpoint_replaces_the_model_in_memory(tiny_weights):
    """The cache keeps one model: every checkpoint of an active run used to add a copy (1.3 -> 2.4 GB)."""
    import gc
    import threading
    import weakref

    from pages.common import _load

    st.cache_resource.clear()
    first = weakref.ref(_load(str(tiny_weights), 1.0)[0])
    second = _load(str(tiny_weights), 2.0)[0]
    for thread in threading.enumerate():  # a model's warm-up holds it until the loops are traced (seconds)
        if thread.name == "warm-up":
            thread.join()
    gc.collect()
    assert first() is None and second is not None
    st.cache_resource.clear()


def test_a_server_stopped_while_the_model_warms_up_exits_cleanly():
    """The warm-up ran in a daemon thread: a process that ended while it traced (a stopped server, a short test run)
    aborted in TensorFlow's native code ("terminate called without an active exception", exit 134)."""
    import subprocess
    import sys

    root = Path(__file__).parents[1]  # the shipped model: the tiny one's warm-up is over before it could abort
    script = f"import time; from pages.common import _load; _load({str(root / 'weights')!r}, 1.0); time.sleep(8)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_warm_up_started_by_a_page_is_waited_for_at_exit(tiny_weights):
    """A page's script runs in a daemon thread, and a thread it starts inherits that: the warm-up must say it is not
    one, or `pytest -k explore` still ended in exit 134."""
    import threading

    from pages.common import _load

    st.cache_resource.clear()
    page = threading.Thread(target=_load, args=(str(tiny_weights), 3.0), daemon=True)
    page.start()
    page.join()
    warm_ups = [thread for thread in threading.enumerate() if thread.name == "warm-up"]
    assert warm_ups and not any(thread.daemon for thread in warm_ups)
    for thread in warm_ups:
        thread.join()
    st.cache_resource.clear()


def test_a_run_of_a_page_leaves_the_garbage_to_pythons_own_collector(app):
    """Streamlit collected every generation of garbage after each run of a page, itself (runner.postScriptGC) and in
    keras.backend.clear_session, which it calls: 0.3-0.65 s with TensorFlow and a model loaded, in which the result of
    a fill waited to go to the browser."""
    import gc
    import threading

    page(app, "pages/inpaint.py")  # loads the model and starts its warm-up
    for thread in threading.enumerate():
        if thread.name == "warm-up":
            thread.join()
    full = []

    def record(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    gc.disable()  # only collections someone asks for
    gc.callbacks.append(record)
    try:
        app.run()
    finally:
        gc.callbacks.remove(record)
        gc.enable()
    assert not app.exception and not full
    with open(ROOT / ".streamlit" / "config.toml", "rb") as file:  # AppTest leaves out the server's own collection
        assert tomllib.load(file)["runner"]["postScriptGC"] is False


def test_inpaint_settings_and_mask_survive_runs_that_do_not_draw_them(app):
    page(app, "pages/inpaint.py")
    app.segmented_control(key="source").set_value("Random face").run()
    app.slider(key="iterations").set_value(10).run()  # the default here is 20, the limit
    app.segmented_control(key="mask_kind").set_value("left").run()
    app.segmented_control(key="source").set_value("Upload a photo").run()  # no photo: the mask is not drawn
    app.segmented_control(key="source").set_value("Random face").run()
    assert app.segmented_control(key="mask_kind").value == "left"
    assert app.slider(key="iterations").value == 10


@pytest.fixture
def with_directions(monkeypatch, tiny_weights, tmp_path):
    """The tiny model with three directions along z's first axes, and a bank whose smile is z[0], female z[2]."""
    import shutil

    import numpy as np

    from core.attributes import ATTRIBUTES
    from core.directions import Directions, save_directions

    folder = tmp_path / "with_directions"
    shutil.copytree(tiny_weights, folder)
    bank_z = np.random.default_rng(0).uniform(-1, 1, (60, 8)).astype(np.float32)
    scores = np.full((60, len(ATTRIBUTES)), np.nan)
    for column, attribute in enumerate(("smile", "age", "female")):
        scores[:, ATTRIBUTES.index(attribute)] = bank_z[:, column]
    save_directions(folder, Directions(["smile", "age", "female"], np.eye(8, dtype=np.float32)[:3], bank_z, scores))
    monkeypatch.setenv("FACEFILL_WEIGHTS", str(folder))
    st.cache_resource.clear()
    return folder


def images(app: AppTest) -> list[str]:
    """The URLs of the images on the page (a URL names its content, so a changed image gets a new one)."""
    return [url for element in app.get("image") for url in element.value]


def test_explore_without_directions_says_how_to_make_them(app):
    page(app, "pages/explore.py")
    assert "python -m core.directions" in messages(app)


def test_the_directions_are_read_once_for_every_page(app, with_directions, monkeypatch):
    import pages.common

    reads = []
    read = pages.common.load_directions
    monkeypatch.setattr(pages.common, "load_directions", lambda *args: reads.append(args) or read(*args))
    page(app, "pages/inpaint.py")
    page(app, "pages/explore.py")
    assert not app.exception and app.slider(key="direction-smile")
    assert len(reads) == 1


def test_unreadable_directions_turn_the_sliders_off_and_say_why(app, with_directions):
    (with_directions / "directions.npz").write_bytes(b"garbage")
    page(app, "pages/explore.py")
    assert not app.exception
    assert "could not be loaded, so the edit sliders are off" in messages(app)
    assert not [s for s in app.slider if s.key.startswith("direction-")]


def test_explore_labelled_face_algebra(app, with_directions):
    page(app, "pages/explore.py")
    assert not app.exception
    assert app.segmented_control(key="algebra_mode").value == "By label"
    assert app.multiselect(key="concept-A (+)").value == ["smiling", "woman"]
    assert len(app.get("plotly_chart")) == 1
    app.multiselect(key="concept-A (+)").set_value(["smiling", "not smiling"]).run()
    assert "contradicts" in messages(app)


def test_explore_sliders_edit_a_random_face(app, with_directions):
    page(app, "pages/explore.py")
    assert [s.label for s in app.slider][:3] == ["Smile", "Age", "Gender (female)"]
    before = images(app)
    app.slider(key="direction-smile").set_value(2.0).run()
    assert not app.exception
    after = images(app)
    assert len(after) == len(before) and after[-1] != before[-1] and after[:-1] == before[:-1]
    app.multiselect(key="edit_hold").set_value(["age"]).run()
    assert not app.exception
    reset = next(b for b in app.button if b.label == "Reset sliders")
    reset.click().run()
    assert app.slider(key="direction-smile").value == 0.0
    assert images(app)[-1] == before[-1]


def test_explore_sliders_are_as_long_as_the_model_card_s_range(app, with_directions):
    """A random face of the grid changes person sooner than a photo G is tuned to: each has its own ranges."""
    from core.edit_report import SliderBar, write_limits

    measured = {1.5: {"age": {"up": 1.0, "down": 1.0, "same_person": 1.0}}}
    write_limits(with_directions, measured, {"age": 2.5}, SliderBar(), "2 photos", "test")
    write_limits(with_directions, measured, {"age": 1.5}, SliderBar(), "2 random faces", "test", grid=True)
    page(app, "pages/explore.py")
    assert (app.slider(key="direction-age").min, app.slider(key="direction-age").max) == (-1.5, 1.5)
    assert "Shortened to +-1.5" in app.slider(key="direction-age").help
    assert app.slider(key="direction-smile").max == 3.0 and not app.slider(key="direction-smile").help
    app.segmented_control(key="edit_target").set_value("Your photo").run()
    app.segmented_control(key="edit_source").set_value("Example photo").run()
    assert not app.exception
    assert app.slider(key="photo-direction-age").max == 2.5 and "Shortened to +-2.5" in app.slider(key="photo-direction-age").help


def test_explore_edits_hold_what_each_direction_is_tangled_with_until_released(app, with_directions):
    import json

    import numpy as np

    from core.directions import load_directions, save_directions

    directions = load_directions(with_directions, 8)
    directions.vectors[0] = np.array([1, 1, 0, 0, 0, 0, 0, 0]) / np.sqrt(2)  # smile tangled with age
    save_directions(with_directions, directions)
    meta = json.loads((with_directions / "model.json").read_text())
    meta["card"]["directions"] = {"report": {"smile": {"holding": {"hold": "age"}}}}
    (with_directions / "model.json").write_text(json.dumps(meta))
    page(app, "pages/explore.py")
    assert app.toggle(key="edit_disentangle").value and not [m for m in app.multiselect if m.key == "edit_hold"]
    app.slider(key="direction-smile").set_value(2.0).run()
    held = images(app)[-1]
    app.toggle(key="edit_disentangle").set_value(False).run()
    assert not app.exception
    assert images(app)[-1] != held  # released: smile moves age too (z's second axis)
    app.multiselect(key="edit_hold").set_value(["age"]).run()
    assert images(app)[-1] == held


def test_explore_edits_the_example_photo(app, with_directions):
    page(app, "pages/explore.py")
    app.segmented_control(key="edit_target").set_value("Your photo").run()
    assert "Upload a photo to edit" in messages(app)
    app.segmented_control(key="edit_source").set_value("Example photo").run()
    assert not app.exception
    projected = app.session_state["projected"][1]
    assert projected.source[0].shape == (512, 512, 3) and projected.z.shape == (8,)
    unedited = images(app)
    app.slider(key="photo-direction-age").set_value(-2.0).run()
    assert not app.exception
    assert images(app)[-2:] != unedited[-2:]  # the aligned faces and the photo both change
    assert any(b.label == "Edited photo (PNG)" for b in app.get("download_button"))


@pytest.fixture
def finished_run(app, tmp_path, tiny_weights):
    """A stopped run in the runs folder with a model the app could switch to."""
    import shutil

    run = tmp_path / "runs" / "old"
    shutil.copytree(tiny_weights, run / "model")
    (run / "run.json").write_text("{}")
    return run


def buttons(app: AppTest) -> list[str]:
    return [b.label for b in app.button]


def test_train_page_without_an_admin_password_is_open_and_says_so(app, finished_run):
    page(app, "pages/train.py")
    assert not app.exception
    assert "Use this model in the app" in buttons(app)
    assert any("FACEFILL_ADMIN_PASSWORD" in c.value for c in app.caption)


def test_train_page_with_an_admin_password_is_view_only_for_visitors(app, finished_run, monkeypatch):
    monkeypatch.setenv("FACEFILL_ADMIN_PASSWORD", "open sesame")
    st.cache_resource.clear()
    page(app, "pages/train.py")
    assert not app.exception
    assert "Use this model in the app" not in buttons(app)
    assert app.get("form_submit_button")[0].proto.disabled  # Start training
    assert "needs the admin password" in messages(app)
    app.text_input(key="admin_password").input("guess").run()
    assert "not the admin password" in messages(app)
    assert "Use this model in the app" not in buttons(app)
    app.text_input(key="admin_password").input("open sesame").run()
    assert not app.exception and "needs the admin password" not in messages(app)
    next(b for b in app.button if b.label == "Use this model in the app").click().run()
    assert (finished_run.parent / "ACTIVE").read_text() == str((finished_run / "model").resolve())


def test_a_newcomer_uploads_a_zip_of_photos_and_can_train_on_it(app, tmp_path, astronaut):
    import io
    import zipfile

    from PIL import Image

    photo = io.BytesIO()
    Image.fromarray(astronaut).save(photo, format="JPEG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("holiday/me.jpg", photo.getvalue())
        z.writestr("../escape.jpg", photo.getvalue())
    page(app, "pages/train.py")
    assert "No dataset folders yet. Upload a zip of face photos above" in messages(app)
    app.file_uploader(key="dataset_zip").upload("faces.zip", archive.getvalue(), "application/zip").run()
    app.text_input(key="dataset_name").input("holiday")
    next(b for b in app.button if b.label == "Unpack and align").click().run()
    assert not app.exception
    assert "1 faces aligned into" in messages(app) and "skipped: unsafe path 1" in messages(app)
    folder = tmp_path / "data" / "uploads" / "holiday"
    assert len(list(folder.glob("*.png"))) == 1 and not (tmp_path / "escape.jpg").exists()
    assert any(str(folder) in str(option) for option in app.selectbox[0].options)  # ready to train on


@pytest.mark.parametrize("size", [16, 32])
def test_every_page_works_with_a_model_of_another_size(app, monkeypatch, tmp_path, size):
    """Nothing in the pages assumes 64 px: a 16 or 32 px model inpaints, explores and edits the example photo."""
    import keras
    import numpy as np

    from core.attributes import ATTRIBUTES
    from core.config import ModelConfig
    from core.directions import Directions, save_directions
    from core.model import build_discriminator, build_generator
    from core.weights import save_model

    config = ModelConfig(image_size=size, z_dim=8, gf=4, df=4)
    keras.utils.set_random_seed(0)
    folder = save_model(tmp_path / f"model{size}", config, build_generator(config), build_discriminator(config))
    bank = np.random.default_rng(0).uniform(-1, 1, (30, 8)).astype(np.float32)
    scores = np.full((30, len(ATTRIBUTES)), np.nan)
    scores[:, ATTRIBUTES.index("smile")] = bank[:, 0]
    save_directions(folder, Directions(["smile"], np.eye(8, dtype=np.float32)[:1], bank, scores))
    monkeypatch.setenv("FACEFILL_WEIGHTS", str(folder))
    st.cache_resource.clear()

    app.run()
    assert not app.exception
    page(app, "pages/inpaint.py")
    app.segmented_control(key="source").set_value("Example photo").run()
    app.segmented_control(key="mask_kind").set_value("center").run()
    app.button[-1].click().run()
    assert not app.exception
    done = app.session_state["result"]["face"]
    assert done.completed.shape == (size, size, 3) and done.pasted.shape == (512, 512, 3)
    page(app, "pages/explore.py")
    app.segmented_control(key="edit_target").set_value("Your photo").run()
    app.segmented_control(key="edit_source").set_value("Example photo").run()
    app.slider(key="photo-direction-smile").set_value(1.0).run()
    assert not app.exception
    assert app.session_state["projected"][1].face.shape == (size, size, 3)


def test_pages_compile_without_python_ast_objects(app, monkeypatch):
    """Streamlit's magic parses each page into Python AST objects. CPython 3.11 counts AST recursion once per
    interpreter, so that parse racing TensorFlow's autograph in the warm-up thread failed a page now and then with
    "SystemError: AST constructor recursion depth mismatch". The pages use no magic, and it is off."""
    from streamlit.runtime.scriptrunner import magic

    parsed = []
    monkeypatch.setattr(magic, "add_magic", lambda code, script_path: parsed.append(script_path) or code)
    for path in ("pages/home.py", "pages/inpaint.py", "pages/explore.py", "pages/train.py"):
        page(app, path)
        assert not app.exception, path
    assert parsed == []


def test_inpaint_settings_start_at_the_models_own_defaults(app, monkeypatch, tmp_path, tiny_model):
    save_model(tmp_path / "w", tiny_model.config, tiny_model.generator, tiny_model.discriminator,
               card={"completion": {"tune_steps": 35, "photo_detail": False}})
    monkeypatch.setenv("FACEFILL_WEIGHTS", str(tmp_path / "w"))
    page(app, "pages/inpaint.py")
    assert not app.exception
    assert next(s for s in app.slider if s.label.startswith("Fine-tuning steps")).value == 35
    assert next(c for c in app.checkbox if c.label.startswith("The photo's own fine detail")).value is False


def test_a_run_stopped_before_its_first_checkpoint_offers_to_start_again(app, tmp_path):
    from core import jobs

    run = tmp_path / "runs" / "early"
    run.mkdir(parents=True)
    (run / jobs.JOB_FILE).write_text('{"data": "faces", "steps": 100, "align": false, "train_args": {}}')
    (run / jobs.STOPPED_FILE).write_text("stopped on request\n")
    page(app, "pages/train.py")
    assert not app.exception
    assert "Start again" in buttons(app)
    assert any("stopped on request · no checkpoint yet" in m.value for m in app.markdown)


def test_the_fills_to_pick_from_follow_the_first(app, monkeypatch):
    """The first fill is shown (and kept) as soon as it is made, before the others; then all four to pick from."""
    import core.inpaint

    shown_before_the_others = []
    other_fills = core.inpaint.FaceFiller.other_fills

    def others_after_a_look(self, *args, **kwargs):
        shown_before_the_others.append([fill.completed for fill in st.session_state.result["fills"]])
        return other_fills(self, *args, **kwargs)

    monkeypatch.setattr(core.inpaint.FaceFiller, "other_fills", others_after_a_look)
    page(app, "pages/inpaint.py")
    app.segmented_control(key="source").set_value("Random face").run()
    app.segmented_control(key="mask_kind").set_value("center").run()
    app.button[-1].click().run()  # Fill the hole
    assert not app.exception
    (first,) = shown_before_the_others[0]
    fills = app.session_state["result"]["fills"]
    assert len(fills) == 4 and (fills[0].completed == first).all()
    assert app.segmented_control(key="pick").options == [f"Fill {i}" for i in range(1, 5)]
