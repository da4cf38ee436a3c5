"""Explore latent space: random faces, interpolation, and face algebra as in the DCGAN paper."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.images import image_grid, to_uint8
from core.latent import face_algebra, interpolate, project_2d
from core.model import sample_z
from app_pages.common import enlarge, model_and_completer

N_SAMPLES = 24

st.title("Explore latent space")
model, _ = model_and_completer()


@st.cache_data(max_entries=32)
def decode(z: np.ndarray, folder_key: int) -> np.ndarray:
    return to_uint8(model.generator(z, training=False).numpy())


key = id(model)
st.session_state.setdefault("explore_seed", 0)
seed = st.number_input("Seed", 0, 1_000_000, key="explore_seed")
st.button("New faces", icon=":material/casino:", on_click=lambda: st.session_state.update(explore_seed=seed + 1))
z = sample_z(N_SAMPLES, model.config.z_dim, seed=int(seed)).numpy()
faces = decode(z, key)
st.image(enlarge(image_grid(faces, columns=12), 2), caption=f"Faces 1-{N_SAMPLES}, left to right, top to bottom")
labels = list(range(N_SAMPLES))
def name(i):
    return f"Face {i + 1}"

st.subheader("Interpolation")
a, b = st.columns(2)
start = a.selectbox("From", labels, 0, format_func=name)
end = b.selectbox("To", labels, 1, format_func=name)
st.image(enlarge(image_grid(decode(interpolate(z[start], z[end], 10), key), columns=10), 2), caption="Spherical interpolation in z")

st.subheader("Face algebra")
st.write("Pick about three faces for each concept, e.g. A smiling woman, B neutral woman, C neutral man: "
         "mean(A) − mean(B) + mean(C) should be a smiling man.")
c1, c2, c3 = st.columns(3)
group_a = c1.multiselect("A (+)", labels, [0, 1, 2], format_func=name)
group_b = c2.multiselect("B (−)", labels, [3, 4, 5], format_func=name)
group_c = c3.multiselect("C (+)", labels, [6, 7, 8], format_func=name)
try:
    result_z = face_algebra(z[group_a], z[group_b], z[group_c], variations=4, seed=int(seed))
except ValueError as err:
    st.info(str(err))
else:
    means = [decode(z[group].mean(axis=0, keepdims=True), key)[0] for group in (group_a, group_b, group_c)]
    shown = np.concatenate([np.stack(means), decode(result_z, key)])
    st.image(enlarge(image_grid(shown, columns=len(shown)), 2),
             caption="mean A, mean B, mean C, then A − B + C and four noisy variations")

    points = project_2d(np.vstack([z, result_z[:1]]))
    fig = go.Figure(go.Scatter(x=points[:-1, 0], y=points[:-1, 1], mode="markers+text", name="faces",
                               text=[str(i + 1) for i in labels], textposition="top center", marker=dict(color="lightgray", size=10)))
    for group, label, colour in ((group_a, "A", "#2a9d8f"), (group_b, "B", "#e76f51"), (group_c, "C", "#264653")):
        fig.add_trace(go.Scatter(x=points[group, 0], y=points[group, 1], mode="markers", name=label, marker=dict(color=colour, size=14)))
    fig.add_trace(go.Scatter(x=points[-1:, 0], y=points[-1:, 1], mode="markers", name="A − B + C", marker=dict(symbol="star", size=20, color="#f4a261")))
    fig.update_layout(title="The faces' z, projected on their two principal components", height=420, margin=dict(t=40, b=10))
    st.plotly_chart(fig)
