"""Explore latent space: random faces, interpolation, face algebra, and edits along measured directions."""
from __future__ import annotations

import hashlib
from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.align import AlignmentError
from core.directions import LABELS, LIMIT_REASON, SLIDER_END, Directions
from core.edit import ProjectedFace, edit_face, generated_face, project_face
from core.project import PROJECTION
from core.images import ImageError, image_grid, to_uint8
from core.latent import face_algebra, interpolate, project_2d
from core.model import sample_z
from pages.common import (
    aligner, choose_face, download_button, enlarge, find_faces, model_and_filler, model_directions, png_bytes,
    through_app_navigation, turn_in_line, uploaded_photo,
)

through_app_navigation()

N_SAMPLES = 24
EXAMPLE = "examples/astronaut.jpg"
STRIP_WIDTH = 80  # px a face is shown in the strips: 8 to a row on a desktop, 4 on a phone

st.title("Explore latent space")
model, filler = model_and_filler()
directions = model_directions()


@st.cache_data(max_entries=32)
def decode(z: np.ndarray, folder_key: int) -> np.ndarray:
    return to_uint8(model.generator(z, training=False).numpy())


def face_strip(images: np.ndarray, captions: list[str] | None = None, width: int = STRIP_WIDTH) -> None:
    """Faces side by side, each width px wide, wrapping onto more rows on a narrow screen (a phone)."""
    st.image(list(images), width=width, caption=captions)


key = id(model)
st.session_state.setdefault("explore_seed", 0)
seed = st.number_input("Seed", 0, 1_000_000, key="explore_seed")
st.button("New faces", icon=":material/casino:", on_click=lambda: st.session_state.update(explore_seed=seed + 1))
z = sample_z(N_SAMPLES, model.config.z_dim, seed=int(seed)).numpy()
faces = decode(z, key)
face_strip(faces, [str(i + 1) for i in range(N_SAMPLES)])
labels = list(range(N_SAMPLES))


def name(i: int) -> str:
    return f"Face {i + 1}"


st.subheader("Interpolation")
a, b = st.columns(2)
start = a.selectbox("From", labels, 0, format_func=name)
end = b.selectbox("To", labels, 1, format_func=name)
st.caption("Spherical interpolation in z")
face_strip(decode(interpolate(z[start], z[end], 10), key), width=STRIP_WIDTH * 3 // 4)


def labelled_concepts(directions: Directions) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Three concepts described in words; each is the mean of the 3 measured samples that best fit them."""
    traits = directions.traits()
    defaults = (["smiling", "woman"], ["not smiling", "woman"], ["not smiling", "man"])
    columns = st.columns(3)
    picked = [column.multiselect(f"{label}", traits, [t for t in default if t in traits], key=f"concept-{label}")
              for column, label, default in zip(columns, ("A (+)", "B (−)", "C (+)"), defaults)]
    try:
        return tuple(directions.concept(traits_, count=3) for traits_ in picked)
    except ValueError as err:
        st.info(str(err))
        return None


def picked_concepts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c1, c2, c3 = st.columns(3)
    groups = (c1.multiselect("A (+)", labels, [0, 1, 2], format_func=name),
              c2.multiselect("B (−)", labels, [3, 4, 5], format_func=name),
              c3.multiselect("C (+)", labels, [6, 7, 8], format_func=name))
    return tuple(z[group] for group in groups)


st.subheader("Face algebra")
how = "Pick faces"
if directions is not None:
    how = st.segmented_control("Concepts", ["By label", "Pick faces"], default="By label", key="algebra_mode",
                               required=True)
if how == "By label":
    st.write("Describe each concept in words; each is the mean z of the 3 generated faces that best show it "
             "(as measured by the face meter): smiling woman − neutral woman + neutral man should smile and be a man.")
    concepts = labelled_concepts(directions)
else:
    st.write("Pick about three faces for each concept, e.g. A smiling woman, B neutral woman, C neutral man: "
             "mean(A) − mean(B) + mean(C) should be a smiling man.")
    concepts = picked_concepts()
try:
    if concepts is None:
        raise ValueError("")
    result_z = face_algebra(*concepts, variations=4, seed=int(seed))
except ValueError as err:
    if str(err):
        st.info(str(err))
else:
    means = [decode(group.mean(axis=0, keepdims=True), key)[0] for group in concepts]
    shown = np.concatenate([np.stack(means), decode(result_z, key)])
    face_strip(shown, ["mean A", "mean B", "mean C", "A − B + C"] + [f"variation {i + 1}" for i in range(len(shown) - 4)])

    chosen = np.vstack(concepts)
    points = project_2d(np.vstack([z, chosen, result_z[:1]]))
    fig = go.Figure(go.Scatter(x=points[:N_SAMPLES, 0], y=points[:N_SAMPLES, 1], mode="markers+text", name="faces",
                               text=[str(i + 1) for i in labels], textposition="top center",
                               marker=dict(color="lightgray", size=10)))
    offset = N_SAMPLES
    for group, label, colour in zip(concepts, "ABC", ("#2a9d8f", "#e76f51", "#264653")):
        part = points[offset : offset + len(group)]
        offset += len(group)
        fig.add_trace(go.Scatter(x=part[:, 0], y=part[:, 1], mode="markers", name=label, marker=dict(color=colour, size=14)))
    fig.add_trace(go.Scatter(x=points[-1:, 0], y=points[-1:, 1], mode="markers", name="A − B + C",
                             marker=dict(symbol="star", size=20, color="#f4a261")))
    fig.update_layout(height=420, margin=dict(t=10, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.12))
    st.caption("The faces' z, projected on their two principal components")
    st.plotly_chart(fig)


# --- edits along measured directions ----------------------------------------------------
def projected_photo() -> ProjectedFace | None:
    """The user's photo (or the example), aligned and projected into z once per face and kept in this session."""
    source = st.segmented_control("Photo", ["Upload a photo", "Example photo"], default="Upload a photo",
                                  key="edit_source", required=True)
    if source == "Example photo":
        data, filename = open(EXAMPLE, "rb").read(), EXAMPLE
    else:
        uploaded = uploaded_photo(key="edit_upload")
        if uploaded is None:
            st.info("Upload a photo to edit, or take the example photo.")
            return None
        data, filename = uploaded
    try:
        photo, found = find_faces(data, filename, model.config.image_size)
    except (ImageError, AlignmentError) as err:
        st.error(str(err), icon=":material/error:")
        return None
    alignment = choose_face(found)
    face_id = (hashlib.sha1(alignment.face.tobytes()).hexdigest(), key)
    kept = st.session_state.get("projected")
    if kept is None or kept[0] != face_id:
        progress = st.progress(0.0, text="Waiting in line...")
        with turn_in_line(progress):
            text = "Finding this face in z, then tuning G to it..."
            progress.progress(0.0, text=text)
            projected = project_face(filler, alignment.face, (photo, alignment), callback=lambda i, loss, preview:
                                     progress.progress(i / PROJECTION.iterations, text=text))
        progress.empty()
        st.session_state.projected = kept = (face_id, projected)
    return kept[1]


@st.cache_data(max_entries=64)
def grid_face(z: np.ndarray, folder_key: int) -> ProjectedFace:
    """A face of the grid, with its landmarks, ready to edit."""
    return generated_face(filler, z, aligner())


def held(directions: Directions) -> list[str] | None:
    """What every edit holds fixed: None (each direction holds what it is most tangled with) unless the user picks."""
    if directions.tangled:
        tangled = ", ".join(f"{LABELS.get(d, d)} holds {LABELS.get(h, h).lower()}" for d, h in directions.tangled.items())
        if st.toggle("Hold what each direction is tangled with", True, key="edit_disentangle",
                     help=f"InterFaceGAN's conditional edit, measured in the model card: {tangled}. Turn it off to "
                          "pick what to hold, or to hold nothing."):
            return None
    return st.multiselect("Hold fixed while editing", directions.names, format_func=lambda d: LABELS.get(d, d),
                          max_selections=2, key="edit_hold",
                          help="Their directions are projected out of every edit (InterFaceGAN's conditional edit).")


def slider_key(name: str, grid: bool) -> str:
    """A direction's slider for a face of the grid or for the user's photo: two sliders, as their ranges differ."""
    return f"direction-{name}" if grid else f"photo-direction-{name}"


def direction_slider(directions: Directions, name: str, grid: bool) -> float:
    """One direction's slider, as long as the model card's range for it on this kind of face (Directions.limit)."""
    limit = directions.limit(name, grid)
    shortened = limit < SLIDER_END
    return st.slider(LABELS.get(name, name), -limit, limit, 0.0, 0.25, key=slider_key(name, grid),
                     help=f"Shortened to +-{limit:g}: {LIMIT_REASON}." if shortened else None)


@st.fragment
def edit_section(directions: Directions) -> None:
    """Sliders along each direction, on a face of the grid or a projected photo; only this part reruns on a move."""
    target = st.segmented_control("Edit", ["A face from the grid", "Your photo"], default="A face from the grid",
                                  key="edit_target", required=True)
    projected, grid = None, target == "A face from the grid"
    if not grid:
        projected = projected_photo()
        if projected is None:
            return
    else:
        projected = grid_face(z[st.selectbox("Face", labels, 0, format_func=name, key="edit_face")], key)
    sliders, side = st.columns([2, 3])
    with sliders:
        if st.button("Reset sliders", icon=":material/restart_alt:"):
            for direction in directions.names:
                st.session_state[slider_key(direction, grid)] = 0.0
        amounts = {d: direction_slider(directions, d, grid) for d in directions.names}
        hold = held(directions)
        local = st.toggle("Change only the part of the face an edit is about", True, key="edit_local",
                          help="A smile changes the mouth and cheeks, mouth open the lips and moves the jaw, eyes closed "
                               "the eyes, brows raised the brows and forehead, and G keeps the rest of its face as it "
                               "was while it draws that part; turn, age and gender change the whole face.")
        detail = 1.0
        if projected.source is not None:
            detail = st.slider("Keep the photo's own detail", 0.0, 1.0, 1.0, 0.1, key="edit_detail",
                               help="1: add G's change to the photo's face; 0: show G's face outright.")
    edited = edit_face(filler, directions, projected, amounts, hold, detail, local)
    with side:
        if projected.source is None:
            st.image(enlarge(image_grid(np.stack([projected.face, edited.face]), columns=2), 3),
                     caption="Before, after")
            return
        st.image(enlarge(image_grid(np.stack([projected.face, projected.rebuilt, edited.face]), columns=3), 3),
                 caption=f"Your face, G tuned to it ({projected.psnr:.1f} dB), edited")
        st.image(edited.pasted, caption="The edit pasted back into the photo", width=min(640, edited.pasted.shape[1]))
        download_button(st, "Edited photo (PNG)", partial(png_bytes, edited.pasted), "photo-edited.png", "image/png")


st.subheader("Edit along measured directions")
if directions is None:
    st.info("This model has no attribute directions yet: compute them with `python -m core.directions` (see docs/training.md, 'Attribute directions').")
else:
    st.write("Each slider moves z along a direction fitted on labelled faces (smile, age, gender, pose...) and "
             "checked on faces it was not fitted on; the model card has the figures. Your own photo is first "
             "found in z (projection) and a copy of G is tuned to it, so an edit keeps the likeness; only the "
             "change is pasted back, blended like an inpainted hole.")
    edit_section(directions)
