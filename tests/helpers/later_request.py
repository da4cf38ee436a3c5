"""AppTest as a request to a server that has already served one.

AppTest starts every run as a fresh server's first request, when Streamlit still reads pages/ as its old
folder navigation; a server reads it so only until st.navigation has run once (the browser test
test_sidebar_on_a_fresh_server checks that first request)."""
from streamlit.runtime.pages_manager import PagesManager


def after_first_request(init):
    """PagesManager.__init__ that leaves the folder navigation off, as st.navigation leaves it."""

    def init_after_first_request(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    return init_after_first_request
