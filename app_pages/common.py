"""What every page shares: settings, the cached model and aligner, small display helpers."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core.align import FaceAligner
from core.complete import Completer
from core.fair_queue import FairQueue
from core.jobs import ACTIVE_FILE
from core.settings import Settings
from core.weights import TrainedModel, WeightsError, load_model


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
def _load(folder: str, stamp: float) -> tuple[TrainedModel, Completer]:
    """One model in memory: a new checkpoint (stamp) or another folder replaces the one before."""
    model = load_model(folder)
    return model, Completer(model)


def model_and_completer() -> tuple[TrainedModel, Completer]:
    """The active model, loaded once per process; stops the page with a clear message if it is broken."""
    folder = active_weights()
    stamp = max((p.stat().st_mtime for p in folder.glob("*") if p.is_file()), default=0.0)
    try:
        return _load(str(folder), stamp)
    except WeightsError as err:
        st.error(f"The model could not be loaded. {err}", icon=":material/error:")
        st.stop()


@st.cache_resource(show_spinner="Loading the face landmark model...")
def aligner() -> FaceAligner:
    return FaceAligner()


@st.cache_resource
def completion_queue() -> FairQueue:
    """At most max_concurrent completions at once per server; the rest wait in line, in order."""
    return FairQueue(settings().max_concurrent)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def enlarge(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """A small face scaled up for display (bicubic, so 64 px faces are not blocky)."""
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((w * scale, h * scale), Image.Resampling.BICUBIC))
