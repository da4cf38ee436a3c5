"""FaceFill: `streamlit run streamlit_app.py`."""
import core  # noqa: F401  (sets TensorFlow's environment before it loads)
import streamlit as st

from core.settings import Settings

st.set_page_config(page_title="FaceFill", page_icon=":material/face_retouching_natural:", layout="wide")

# Every page first calls pages.common.through_app_navigation(): until this line has run once in a
# server process, Streamlit also reads pages/ as its old folder navigation.
pages = [
    st.Page("pages/home.py", title="How it works", icon=":material/home:", default=True),
    st.Page("pages/inpaint.py", title="Inpaint", icon=":material/brush:", url_path="inpaint"),
    st.Page("pages/explore.py", title="Explore latent space", icon=":material/scatter_plot:", url_path="explore"),
]
if Settings.from_env().training_enabled:
    pages.append(st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"))
st.navigation(pages).run()
