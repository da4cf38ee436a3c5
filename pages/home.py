"""How it works: the method in three steps, with the write-up's pictures."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.images import image_grid, to_uint8
from core.model import sample_z
from core.weights import WeightsError, read_model_json
from pages.common import active_weights, enlarge, model_and_filler, through_app_navigation

through_app_navigation()

st.title("FaceFill")
st.write(
    "Fill holes in face photos with a generative model, following Yeh, Chen et al., "
    "*Semantic Image Inpainting with Perceptual and Contextual Losses* (2016), as explained in "
    "Brandon Amos's *Image Completion with Deep Learning in TensorFlow*."
)

try:
    size = read_model_json(active_weights())["config"].image_size
except WeightsError:  # the samples below say what is wrong with the weights
    size = None
left, right = st.columns(2)
with left:
    st.subheader("1. Images are samples of a distribution")
    face = f"{size}x{size} face" if size else "face"
    dimensions = f"{3 * size * size:,} dimensions" if size else "thousands of dimensions"
    st.write(
        f"Think of every {face} as one point drawn from a probability distribution over images. "
        f"With one dimension, a distribution and its samples look like this; these faces live in {dimensions}."
    )
    x = np.linspace(-4, 4, 400)
    samples = np.random.default_rng(0).normal(size=40)
    fig = go.Figure([
        go.Scatter(x=x, y=np.exp(-x**2 / 2) / np.sqrt(2 * np.pi), name="pdf"),
        go.Scatter(x=samples, y=np.zeros_like(samples), mode="markers", name="samples", marker=dict(size=8, opacity=0.6)),
    ])
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="x", yaxis_title="p(x)")
    st.plotly_chart(fig)
with right:
    st.subheader("2. A GAN learns to draw from it")
    st.write(
        "A DCGAN's generator G turns a random vector z in [-1, 1]^100 into a face; a discriminator D learns to "
        "tell real faces from G's, and G learns to fool it. In two dimensions, a distribution has contours:"
    )
    g = np.linspace(-3, 3, 120)
    xx, yy = np.meshgrid(g, g)
    density = np.exp(-(xx**2 - 1.2 * xx * yy + yy**2) / 1.28)
    fig = go.Figure(go.Contour(x=g, y=g, z=density, colorscale="Blues", showscale=False))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig)

st.subheader("3. Filling a hole = finding the best fake")
st.write(
    "Given a photo y and a mask M of the known pixels, search z for the generated face that matches the "
    "known pixels (contextual loss) and still looks real to D (perceptual loss):"
)
st.latex(r"\hat z = \arg\min_{z \in [-1,1]^{100}} \;\|M \odot (G(z) - y)\|_1 + \lambda \log(1 - D(G(z)))")
st.write(
    "FaceFill starts the search from a learned guess (an encoder trained on G's own faces), then fits a copy of G "
    "to this photo's known pixels for a few steps. The hole takes G(ẑ): x = M ⊙ y + (1 − M) ⊙ G(ẑ), and a Poisson "
    "blend keeps G's detail while taking the photo's colours at the hole's border, so no seam shows."
)

model, _ = model_and_filler()
faces = to_uint8(model.generator(sample_z(8, model.config.z_dim, seed=1), training=False).numpy())
st.image(enlarge(image_grid(faces, columns=8), 2), caption="Faces the shipped generator draws from random z")
st.page_link("pages/inpaint.py", label="Fill a hole in a face", icon=":material/brush:")
st.page_link("pages/explore.py", label="Explore the latent space: interpolation and face algebra", icon=":material/scatter_plot:")
