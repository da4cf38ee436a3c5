"""What every page shares: settings, the cached model and aligner, small display helpers."""
from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import streamlit as st
from PIL import Image

from core.align import Alignment, FaceAligner
from core.face_filler import FaceFiller
from core.directions import Directions, load_directions
from core.fair_queue import FairQueue
from core.images import read_image
from core.jobs import ACTIVE_FILE
from core.settings import Settings
from core.weights import TrainedModel, WeightsError, load_model


def _keep_tensorflow_warm(free_memory: bool = True) -> None:
    """Stands in for keras.backend.clear_session in the app's process, which Streamlit calls after every run of a page
    (for apps that build a model per run). It collected all of Python's garbage, 0.3-0.45 s with TensorFlow and a model
    loaded, in which the page's last messages waited to go to the browser, and emptied TensorFlow's kernel cache, so
    the next run's first calls were slow again. The app builds each model once per process (st.cache_resource)."""


keras.backend.clear_session = _keep_tensorflow_warm


def through_app_navigation() -> None:
    """Run this page under streamlit_app.py's navigation. Until st.navigation has run once in a server process,
    Streamlit treats pages/ as its old folder navigation: a deep link as a fresh server's first request would run
    the page alone, with every file of pages/ in the sidebar. Switch that mode off and rerun: the rerun goes
    through streamlit_app.py to the same page (a page is found by its URL path in both modes)."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource
def settings() -> Settings:
    return Settings.from_env()


def active_weights() -> Path:
    """The model folder in use: a run made active on the Train page, else the shipped weights."""
    marker = settings().runs / ACTIVE_FILE
    if marker.is_file():
        folder = Path(marker.read_text().strip())
        if folder.is_dir():
            return folder
    return settings().weights


@st.cache_resource(show_spinner="Loading the model...", max_entries=1)
def _load(folder: str, stamp: float) -> tuple[TrainedModel, FaceFiller, str | None]:
    """One model in memory, with its attribute directions (the other fills are edits along them; the Explore page's
    sliders) or why they could not be loaded: a new file in the folder (stamp) or another folder replaces them."""
    model = load_model(folder)
    try:
        directions, problem = load_directions(folder, model.config.z_dim), None
    except WeightsError as err:  # the fills are searched for instead, and the Explore page says why (model_directions)
        directions, problem = None, str(err)
    filler = FaceFiller(model, directions)
    # Trace the completion loops now, beside the page, so the first fill is as fast as later ones.
    # Not a daemon: a process that ends while it runs waits for it (a daemon thread aborts in TensorFlow's native code).
    threading.Thread(target=filler.warm_up, name="warm-up", daemon=False).start()  # pages run in daemon threads
    return model, filler, problem


def _active_model() -> tuple[TrainedModel, FaceFiller, str | None]:
    """The active model, loaded once per process; stops the page with a clear message if it is broken."""
    folder = active_weights()
    stamp = max((p.stat().st_mtime for p in folder.glob("*") if p.is_file()), default=0.0)
    try:
        return _load(str(folder), stamp)
    except WeightsError as err:
        st.error(f"The model in {folder} could not be loaded. {err} Point FACEFILL_WEIGHTS at a model folder (the "
                 "app ships with weights/), or publish a run into this one with `python -m core.weights RUN/model "
                 f"{folder}`.", icon=":material/error:")
        st.stop()


def model_and_filler() -> tuple[TrainedModel, FaceFiller]:
    """The active model and its filler (see _active_model)."""
    model, filler, _ = _active_model()
    return model, filler


def model_directions() -> Directions | None:
    """The active model's attribute directions, None when its folder has none (or they do not fit it: then says so)."""
    _, filler, problem = _active_model()
    if problem is not None:
        st.warning(f"The attribute directions could not be loaded, so the edit sliders are off. {problem} Measure them "
                   "again for this model with `python -m core.directions` (docs/training.md, 'Attribute directions').",
                   icon=":material/warning:")
    return filler.directions


@st.cache_resource(show_spinner="Loading the face landmark model...")
def aligner() -> FaceAligner:
    return FaceAligner()


def uploaded_photo(key: str | None = None) -> tuple[bytes, str] | None:
    """(bytes, file name) of a photo the user uploads, or None (with a message) while there is none.

    The widget states the server's limit and refuses a larger file itself (a red mark that says why); the size is
    checked again here, since a browser's check can be bypassed.
    """
    limit = settings().max_upload_mb
    upload = st.file_uploader("A photo with a face", type=["jpg", "jpeg", "png", "webp"], key=key,
                              max_upload_size=limit)
    if upload is None:
        return None
    if upload.size > limit * 2**20:
        st.error(f"{upload.name} is {upload.size / 2**20:.1f} MB; this server takes photos up to {limit} MB. "
                 "Save it smaller (a JPEG of a few MB is plenty) and upload it again.", icon=":material/error:")
        st.stop()
    return upload.getvalue(), upload.name


def find_faces(data: bytes, name: str, size: int) -> tuple[np.ndarray, list[Alignment]]:
    """The photo (downscaled if huge) and its aligned faces. Raises ImageError / AlignmentError.

    Kept in this user's session only (never a process-wide cache), so an upload is gone with the session.
    """
    key = (hashlib.sha1(data).hexdigest(), size)
    cached = st.session_state.get("photo")
    if cached is None or cached[0] != key:
        with st.spinner("Finding faces..."):
            photo = read_image(data, name)
            st.session_state.photo = (key, photo, aligner().align_all(photo, size))
    return st.session_state.photo[1], st.session_state.photo[2]


def choose_face(faces: list[Alignment]) -> Alignment:
    """The only face, or the one the user picks from thumbnails when the photo has several."""
    if len(faces) == 1:
        return faces[0]
    for i, (column, found) in enumerate(zip(st.columns(min(len(faces), 6)), faces)):
        column.image(enlarge(found.face, 2), caption=f"Face {i + 1}")
    index = st.radio("Which face?", range(len(faces)), format_func=lambda i: f"Face {i + 1}", horizontal=True)
    return faces[index]


@st.cache_resource
def completion_queue() -> FairQueue:
    """At most max_concurrent completions at once per server; the rest wait in line, in order."""
    return FairQueue(settings().max_concurrent)


@contextmanager
def turn_in_line(progress) -> Iterator[None]:
    """This user's turn on the completion queue; while they wait, progress (an st.progress) shows their place."""

    def wait(place: int) -> None:
        progress.progress(0.0, text=f"Waiting in line: {'you are next' if place == 1 else f'{place - 1} ahead of you'}...")

    with completion_queue().turn(on_wait=wait):
        yield


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def download_button(container, label: str, make: Callable[[], bytes], file_name: str, mime: str) -> None:
    """A download whose file make() encodes only when it is clicked, in container (st or a column).

    The click must not rerun the page: a rerun unregisters make(), and another user's run ending just then made
    the download fail (Streamlit 1.67, seen with four users at once)."""
    container.download_button(label, make, file_name, mime, on_click="ignore")


def enlarge(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """A small face scaled up for display (bicubic, so 64 px faces are not blocky)."""
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((w * scale, h * scale), Image.Resampling.BICUBIC))


if __name__ == "__main__":  # opened as a page of the old folder navigation (/common)
    through_app_navigation()
