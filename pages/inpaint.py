"""Inpaint: pick a face, mark a hole, watch the optimiser fill it, pick one of the fills offered."""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from functools import partial

import numpy as np
import streamlit as st

from core.align import Alignment, AlignmentError
from core.config import STEP_SIZES, CompletionConfig
from core.images import ImageError, to_uint8
from core.masks import PRESETS, Mask, MaskError, mask_from_drawing, masked_preview, preset_mask
from core.model import sample_z
from core.photo_mask import PhotoHole, face_view, hole_from_drawing, outside_overlay, view_image, zoomed
from core.inpaint import MAX_VARIANTS, FaceResult, FillRequest, complete_faces
from pages.common import (
    choose_face, download_button, enlarge, find_faces, model_and_filler, png_bytes, settings, through_app_navigation,
    turn_in_line, uploaded_photo,
)
from pages.mask_canvas import TOOLS, paint_hole

through_app_navigation()

EXAMPLE = "examples/astronaut.jpg"
CANVAS = 256  # a random face is shown (and drawn on) 256 px wide, whatever the model's size
PHOTO_CANVAS = 640  # a photo is shown to draw on zoomed to the face, at most this wide and tall (the page's width)
FILLS_OFFERED = 4  # fills to choose from, by default
PREVIEW_SECONDS = 0.3  # the live preview changes at most this often (each one is an image sent to the browser)

st.title("Inpaint")
model, filler = model_and_filler()
size = model.config.image_size
limits = settings()


def completion_settings(defaults: CompletionConfig) -> tuple[CompletionConfig, int]:
    """The completion settings and how many fills to offer, from the sidebar (drawn on every run, so nothing below
    resets them), starting at this model's own defaults (core.weights)."""
    with st.sidebar:
        st.subheader("Settings")
        st.caption("λ and losses as in the paper; a faster start, fewer steps and a fine-tuned G. "
                   f"On this server one completion searches for at most {limits.max_seconds} s.")
        lam = st.number_input("λ, weight of the perceptual loss", 0.0, 10.0, defaults.lam, 0.05)
        iterations = st.slider(
            "Iterations", 10, limits.max_iterations, min(defaults.iterations, limits.max_iterations), 10,
            key="iterations",
        )
        optimizer = st.selectbox("Optimiser", list(STEP_SIZES))
        step_label = "Leapfrog step" if optimizer == "hmc" else "Learning rate"
        learning_rate = st.number_input(
            f"{step_label} ({optimizer})", 1e-5, 1.0, STEP_SIZES[optimizer], format="%.5f", key=f"lr-{optimizer}"
        )
        restarts = st.slider("Random restarts (best one wins)", 1, limits.max_restarts,
                             min(defaults.restarts, limits.max_restarts))
        init_pool = st.select_slider("Start from the best of N random z", [0, 16, 64, 128, 256, 512], defaults.init_pool)
        tune_steps = st.slider("Fine-tuning steps on G", 0, 100, defaults.tune_steps, 5)
        fills = st.slider("Fills to choose from", 1, MAX_VARIANTS, FILLS_OFFERED, key="variants",
                          help="The first is the single best-measured fill, on screen as soon as it is ready; the "
                               "others are it with another expression, age or look, or two at once (the model's "
                               "measured directions): of those the model finds most real, the ones that differ "
                               "most in the hole.")
        photo_detail = st.checkbox("The photo's own fine detail in the hole", defaults.photo_detail,
                                   help="The fill's finest detail is copied from where the photo looks like it: its "
                                        "skin, grain and edges.")
        blend = st.checkbox("Poisson blending", defaults.blend)
        guidance = st.slider("Blend: weight of G's detail", 0.0, 1.0, defaults.guidance, 0.05, disabled=not blend)
    try:
        return replace(
            defaults, lam=lam, iterations=iterations, learning_rate=learning_rate, optimizer=optimizer,
            restarts=restarts, init_pool=init_pool, tune_steps=tune_steps, blend=blend, guidance=guidance,
            photo_detail=photo_detail,
            report_every=max(5, iterations // 30),
        ), fills
    except ValueError as err:
        st.error(f"Settings: {err} Change it in the sidebar.", icon=":material/error:")
        st.stop()


def the_face() -> tuple[np.ndarray, np.ndarray | None, Alignment | None]:
    """The aligned face to fill, and the photo and alignment it was cut from (None for a random face)."""
    source = st.segmented_control(
        "Face", ["Upload a photo", "Random face", "Example photo"], default="Upload a photo", key="source",
        required=True,
    )
    try:
        if source == "Random face":
            if st.button("Another face", icon=":material/casino:"):
                st.session_state.face_seed = st.session_state.get("face_seed", 0) + 1
            z = sample_z(1, model.config.z_dim, seed=1000 + st.session_state.get("face_seed", 0))
            return to_uint8(model.generator(z, training=False).numpy()[0]), None, None
        if source == "Example photo":
            data, name = open(EXAMPLE, "rb").read(), EXAMPLE
        else:
            uploaded = uploaded_photo()
            if uploaded is None:
                st.info("Upload a photo, or try a random face or the example photo.")
                st.stop()
            data, name = uploaded
        photo, faces = find_faces(data, name, size)
        alignment = choose_face(faces)
        return alignment.face, photo, alignment
    except (ImageError, AlignmentError) as err:
        st.error(str(err), icon=":material/error:")
        st.stop()


def the_hole(face: np.ndarray, photo: np.ndarray | None, alignment: Alignment | None, face_id: str,
             view) -> tuple[Mask, PhotoHole | None]:
    """The mask in the model's frame, painted (on the photo, zoomed to the face, or on the face) or a preset, and
    the photo's own pixels to fill when it was painted on the photo."""
    # Streamlit forgets a widget's value on a run that does not draw it (no photo yet): keep a copy.
    if "mask_kind" not in st.session_state:
        st.session_state.mask_kind = st.session_state.get("kept_mask_kind", "Draw")
    kind = st.segmented_control("Mask", ["Draw", *PRESETS[:-1]], key="mask_kind", required=True)
    st.session_state.kept_mask_kind = kind
    hole = None
    if kind == "Draw":
        tools, widths = st.columns(2)
        tool = tools.radio("Tool", list(TOOLS), horizontal=True, format_func=TOOLS.get, key="tool")
        width = widths.slider("Brush width", 4, 60, 24, disabled=tool == "rect")
        if alignment is not None:
            st.caption("Paint the hole on the photo; the eraser takes paint away, Undo takes a stroke back. "
                       "The model fills only inside the yellow frame.")
            framed = view_image(photo, view, alignment, size)
            painted = paint_hole(framed, f"photo-canvas-{face_id}", tool, width)
        else:
            shown = enlarge(face, max(1, CANVAS // size))
            painted = paint_hole(shown, f"canvas-{face_id}", tool, width)
        if painted is None or not painted.any():
            st.info("Paint over the part of the face to fill.")
            st.stop()
        try:
            if alignment is not None:
                hole = hole_from_drawing(painted, view, photo.shape, alignment, size)
                mask = hole.mask
            else:
                mask = mask_from_drawing(painted > 0, size)
        except MaskError as err:
            st.warning(str(err), icon=":material/warning:")
            st.stop()
    else:
        mask = preset_mask(kind, size, seed=0)
    seen, outside = st.columns(2)
    seen.image(enlarge(masked_preview(face, mask)), caption="What the model gets to see")
    if hole is not None and hole.outside_fraction > 0:
        outside.warning(f"{hole.outside_fraction:.0%} of what you painted is outside the yellow frame, the part of "
                        "the photo the model can fill: it stays as it is (red).", icon=":material/warning:")
        outside.image(outside_overlay(view_image(photo, view, alignment, size), hole.outside), width="stretch")
    return mask, hole


def fill_the_hole(request: FillRequest, config: CompletionConfig, fills: int, face_id: str) -> None:
    """Fill the hole, showing the search as it goes and the first fill as soon as it is ready, while the others to
    choose from are made; then rerun the page to show them all (show_result)."""
    progress = st.progress(0.0, text="Waiting in line...")
    live = st.empty()
    shown_at = [0.0]

    def show(iteration: int, loss: np.ndarray, preview: np.ndarray) -> None:
        progress.progress(iteration / config.iterations,
                          text=f"Iteration {iteration} of {config.iterations}, loss {loss[0]:.1f}")
        if time.perf_counter() - shown_at[0] >= PREVIEW_SECONDS:  # the GIF keeps every frame; the page needs fewer
            live.image(enlarge(to_uint8(preview[0])), caption="Current completion")
            shown_at[0] = time.perf_counter()

    def first_ready(first: list[FaceResult]) -> None:
        st.session_state.result = {"face_id": face_id, "fills": first, "asked": config.iterations, "coming": fills - 1}
        progress.progress(1.0, text=f"Fill 1 is ready; making {fills - 1} more to choose from...")
        with live.container():
            show_result(st.session_state.result, request.photo, view)

    look = filler.first_look(request.face, request.mask)
    if look is not None:
        live.image(enlarge(to_uint8(look)), caption="First look: the encoder's guess, while the search runs")
    with turn_in_line(progress):
        progress.progress(0.0, text="Your turn: choosing a start...")
        (made,) = complete_faces(filler, [request], config, fills, show, limits.max_seconds, first_ready)
    st.session_state.result = {"face_id": face_id, "fills": made, "asked": config.iterations, "coming": 0}
    st.session_state.pick = 0
    st.rerun()


def show_result(result: dict, photo: np.ndarray | None, view) -> None:
    """The fills to pick from, the picked one in detail (input, G(ẑ), completion, the photo) and its downloads."""
    fills = result["fills"]
    st.subheader("Result")
    if len(fills) > 1:
        st.write("Pick the fill you like: each is another face that fits the photo (the first is the best-measured).")
        for i, column in enumerate(st.columns(len(fills))):
            column.image(enlarge(fills[i].completed), caption=f"Fill {i + 1}", width="stretch")
        pick = st.segmented_control("Your pick", range(len(fills)), format_func=lambda i: f"Fill {i + 1}", key="pick",
                                    required=True)
        result["face"] = fills[pick]
    else:
        result["face"] = fills[0]
    done = result["face"]
    columns = st.columns(3)
    for column, image, caption in zip(columns, (done.masked, done.generated, done.completed),
                                      ("Input", "G(ẑ)", "Completion")):
        column.image(enlarge(image), caption=caption)
    st.caption(f"Total loss {done.loss:.1f}")
    if done.iterations < result["asked"]:
        st.warning(f"Stopped after {done.iterations} of {result['asked']} iterations: one completion may search "
                   f"for {limits.max_seconds} s on this server. The best fit so far was fine-tuned and blended.")
    if done.pasted is not None:
        before = st.toggle("Before", key="show_before", help="The photo as it was, to compare with the fill.")
        shown, caption = (photo, "The photo before") if before else (done.pasted, "Pasted back into the photo")
        st.image(zoomed(shown, view), caption=f"{caption}, zoomed to the face (the download is the whole photo)")
    d1, d2, d3 = st.columns(3)
    download_button(d1, "Completion (PNG)", partial(png_bytes, done.completed), "completion.png", "image/png")
    if done.pasted is not None:
        download_button(d2, "Photo (PNG)", partial(png_bytes, done.pasted), "photo-completed.png", "image/png")
    download_button(d3, "Optimisation (GIF)", partial(done.gif, scale=4), "completion.gif", "image/gif")


config, fills = completion_settings(model.completion)
face, photo, alignment = the_face()
face_id = hashlib.sha1(face.tobytes()).hexdigest()[:12]
# A photo is drawn on, and its result shown, zoomed to the face.
view = face_view(photo.shape, alignment, size, PHOTO_CANVAS, max_shown_height=PHOTO_CANVAS) if photo is not None else None
mask, hole = the_hole(face, photo, alignment, face_id, view)
if st.button("Fill the hole", type="primary", icon=":material/auto_fix_high:"):
    fill_the_hole(FillRequest(face, mask, photo, alignment, None if hole is None else hole.photo_fill),
                  config, fills, face_id)
result = st.session_state.get("result")
if result and result["face_id"] == face_id:
    show_result(result, photo, view)
    if result["coming"]:
        st.info("The other fills were stopped before they were ready: fill the hole again to choose from more.",
                icon=":material/info:")
