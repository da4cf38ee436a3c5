"""FaceFill: `streamlit run streamlit_app.py`."""
import core  # noqa: F401  (sets TensorFlow's environment before it loads)
import streamlit as st

from core.settings import Settings

st.set_page_config(page_title="FaceFill", page_icon=":material/face_retouching_natural:", layout="wide")

# The pages live in app_pages/, not pages/: with a pages/ folder Streamlit starts in its
# old directory-based mode, and a deep link (/inpaint) as a process's first request
# runs that file directly, bypassing this navigation.
pages = [
    st.Page("app_pages/home.py", title="How it works", icon=":material/home:", default=True),
    st.Page("app_pages/inpaint.py", title="Inpaint", icon=":material/brush:", url_path="inpaint"),
    st.Page("app_pages/explore.py", title="Explore latent space", icon=":material/scatter_plot:", url_path="explore"),
]
if Settings.from_env().training_enabled:
    pages.append(st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"))
st.navigation(pages).run()
