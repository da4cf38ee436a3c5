"""Train: start, stop and resume a training run in the background; watch its curves and samples."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import jobs
from core.settings import SettingsError
from core.train import CHECKPOINT, RUN_JSON, read_metrics
from core.zipdata import ZipDataError, ZipLimits, dataset_from_zip
from pages.common import settings, through_app_navigation

through_app_navigation()

st.title("Train")
config = settings()
if not config.training_enabled:
    st.info("Training is switched off on this server (FACEFILL_TRAINING=0).")
    st.stop()

if config.admin_password:
    with st.sidebar:
        st.text_input("Admin password", type="password", key="admin_password",
                      help="This server lets only its admin start, stop or resume runs and switch the app's model.")
allowed = config.may_control_training(st.session_state.get("admin_password"))
if config.admin_password and not allowed:
    if st.session_state.get("admin_password"):
        st.error("That is not the admin password.", icon=":material/lock:")
    st.info("You can watch the runs here; starting, stopping or resuming one, or switching the app's model, "
            "needs the admin password (sidebar).", icon=":material/lock:")
elif not config.admin_password:
    st.caption("Anyone who can open this page may start, stop and resume runs and switch the model every user "
               "sees; on a shared server, set FACEFILL_ADMIN_PASSWORD.")

runs = config.runs
existing = sorted(p.name for p in runs.glob("*") if any((p / f).is_file() for f in (RUN_JSON, jobs.JOB_FILE, jobs.PID_FILE))) if runs.is_dir() else []

def upload_dataset() -> None:
    """A zip of face photos, unpacked safely and aligned into uploads/NAME, with a progress bar and a skip report."""
    st.write(f"Its photos are unpacked (at most {config.max_zip_files} photos, {config.max_zip_mb} MB), every face is "
             f"aligned, and the faces land in `{config.uploads}/NAME`, ready to pick below; the photos are not kept.")
    archive = st.file_uploader("Zip of face photos", type=["zip"], key="dataset_zip", max_upload_size=config.max_zip_mb)
    name = st.text_input("Dataset name", "my-faces", max_chars=jobs.MAX_RUN_NAME, key="dataset_name")
    if not st.button("Unpack and align", icon=":material/upload:", disabled=archive is None or not allowed):
        return
    if archive.size > config.max_zip_mb * 2**20:
        st.error(f"{archive.name} is {archive.size / 2**20:.0f} MB; this server takes zips up to {config.max_zip_mb} MB.")
        return
    bar = st.progress(0.0, text="Unpacking...")
    try:
        counts = dataset_from_zip(archive.getvalue(), config.uploads / jobs.check_run_name(name), limits=ZipLimits(
            max_files=config.max_zip_files), progress=lambda done, total: bar.progress(
            done / total, text=f"Aligning photo {done} of {total}"))
    except (ZipDataError, ValueError) as err:
        st.error(str(err), icon=":material/error:")
    else:
        st.success(f"{counts['aligned']} faces aligned into {config.shown(config.uploads / name)}: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k.startswith("skipped")))
    finally:
        bar.empty()


if config.uploads is not None:
    with st.expander("Upload a zip of face photos", icon=":material/folder_zip:", expanded=not config.dataset_choices()):
        upload_dataset()

with st.form("new-run"):
    st.subheader("New run")
    choices = config.dataset_choices()
    if not choices:
        roots = ", ".join(config.data_root_names) or "none (FACEFILL_DATA_ROOTS is empty)"
        st.warning(f"No dataset folders yet. Upload a zip of face photos above, or put a folder of photos under one "
                   f"of the allowed roots ({roots}).")
    data = st.selectbox("Dataset folder (photos, or faces already aligned)", choices, format_func=config.shown)
    align = st.checkbox("Align the photos first (faces already aligned at the model's size are kept as they are)", True)
    name = st.text_input("Run name", "faces", max_chars=jobs.MAX_RUN_NAME)
    steps = st.number_input("Steps", 10, 100_000, 6000, 50)
    started = st.form_submit_button("Start training", type="primary", disabled=not choices or not allowed)
if started and allowed:
    try:
        folder = config.dataset_path(data)
        jobs.check_run_name(name)
        if (runs / name / CHECKPOINT).is_file():
            raise SettingsError(f"Run {name} exists: resume it below, or choose another name.")
        jobs.start(runs / name, folder, int(steps), align=align, max_jobs=config.max_jobs,
                   log_every=10, sample_every=50, checkpoint_every=50)
        st.success(f"Training {name} on {config.shown(folder)}.")
        existing = sorted(set(existing) | {name})
    except (SettingsError, RuntimeError, ValueError) as err:
        st.error(str(err))

if not existing:
    st.stop()
st.subheader("Runs")
run_name = st.selectbox("Run", existing, index=existing.index(name) if started and name in existing else 0)
run = runs / run_name


def controls(state: jobs.JobStatus) -> None:
    """Stop, Resume and "Use this model in the app" for the selected run."""
    a, b, c = st.columns(3)
    if state.running and a.button("Stop", icon=":material/stop:"):
        jobs.stop(run)
        st.rerun()
    again = "Resume" if state.step else "Start again"
    if not state.running and state.can_resume and b.button(again, icon=":material/play_arrow:"):
        try:
            jobs.resume(run, max_jobs=config.max_jobs)
        except RuntimeError as err:
            st.error(str(err))
        else:
            st.rerun()
    if (run / "model" / "model.json").is_file() and c.button("Use this model in the app", icon=":material/check_circle:"):
        (runs / jobs.ACTIVE_FILE).write_text(str((run / "model").resolve()))
        st.success("The app now uses this run's model.")


@st.fragment(run_every=5)
def progress() -> None:
    state = jobs.status(run)
    rows = read_metrics(run)
    parts = ["**Running**"] if state.running else ["**Stopped**", state.why]
    parts.append(f"last checkpoint at step {state.step}" if state.step else "no checkpoint yet")
    if rows:
        parts.append(f"{rows[-1]['seconds'] / 60:.0f} min of training")
    st.write(" · ".join(parts))
    if allowed:
        controls(state)
    if rows:
        fig = go.Figure()
        for key in ("d_loss_real", "d_loss_fake", "g_loss"):
            fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[r[key] for r in rows], name=key, mode="lines"))
        fig.update_layout(xaxis_title="step", yaxis_title="loss", height=360, margin=dict(t=10, b=10))
        st.plotly_chart(fig)
    samples = sorted((run / "samples").glob("step_*.png"))
    if samples:
        st.image(str(samples[-1]), caption=f"Samples from a fixed z at {samples[-1].stem.replace('_', ' ')}", width=512)
    with st.expander("Log"):
        st.code(state.log_tail or "(empty: the job wrote nothing yet)")


progress()
