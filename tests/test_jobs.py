"""Background training as the Train page uses it: start, status, stop, resume; plus the loss plot."""
import time
from pathlib import Path

from PIL import Image

from core import jobs
from core.curves import plot_losses

def wait_for(condition, seconds=120):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.2)
    return condition()


def test_start_stop_resume(synthetic_faces, tmp_path, tiny_job_args):
    run = tmp_path / "run"
    jobs.start(run, synthetic_faces, steps=10_000, **tiny_job_args)
    assert jobs.status(run).running
    assert wait_for(lambda: jobs.status(run).step >= 2), jobs.status(run).log_tail
    try:
        jobs.start(run, synthetic_faces, steps=10)
        raise AssertionError("a second job in the same run was allowed")
    except RuntimeError as err:
        assert "already running" in str(err)
    assert jobs.stop(run)
    assert wait_for(lambda: not jobs.status(run).running, 30)
    stopped_at = jobs.status(run).step

    jobs.resume(run)
    assert wait_for(lambda: jobs.status(run).step > stopped_at), jobs.status(run).log_tail
    assert "resumed from step" in (run / jobs.LOG_FILE).read_text()  # the whole log: the tail scrolls fast
    jobs.stop(run)
    assert wait_for(lambda: not jobs.status(run).running, 30)
    assert not jobs.stop(run)

    plot_losses(run, tmp_path / "curves.png")
    assert Image.open(tmp_path / "curves.png").size == (800, 400)


def test_a_stale_pid_file_never_signals_another_process(tmp_path):
    """After a reboot job.pid may name an unrelated process: it is not taken for the job, nor stopped."""
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        # An unrelated process runs its own program. Until exec, a child has no command line of its own, which
        # status() takes for a job just started: on a busy machine (two test workers) the check could land there.
        deadline = time.monotonic() + 30
        while b"time.sleep" not in Path(f"/proc/{other.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        (run / jobs.PID_FILE).write_text(str(other.pid))
        assert not jobs.status(run).running
        assert not jobs.stop(run)
        assert other.poll() is None  # still alive: no signal was sent
    finally:
        other.kill()
        other.wait()


def test_a_pid_file_older_than_its_process_is_stale(tmp_path):
    """A process that even looks like this run's job, but started after the pid file was written, is not it."""
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    (run / jobs.PID_FILE).write_text("0")
    hour_ago = os.path.getmtime(run / jobs.PID_FILE) - 3600
    lookalike = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "core.jobs", "--out", str(run)],
                                 start_new_session=True)
    try:
        (run / jobs.PID_FILE).write_text(str(lookalike.pid))
        assert jobs.status(run).running  # written after it started: taken for the job
        os.utime(run / jobs.PID_FILE, (hour_ago, hour_ago))  # as if written before a reboot
        assert not jobs.status(run).running and not jobs.stop(run)
        assert lookalike.poll() is None
    finally:
        lookalike.kill()
        lookalike.wait()


def test_run_names_are_checked_before_any_folder_is_made():
    import pytest

    assert jobs.check_run_name("faces-2_b") == "faces-2_b"
    with pytest.raises(ValueError, match="at most 64 characters long \\(this one has 300\\)"):
        jobs.check_run_name("a" * 300)  # used to crash the Train page: File name too long
    for bad in ("", "../up", "a b", "naïve"):
        with pytest.raises(ValueError, match="letters, digits"):
            jobs.check_run_name(bad)


def test_a_server_runs_at_most_max_jobs_training_jobs(synthetic_faces, tmp_path, tiny_job_args):
    import pytest

    runs = tmp_path / "runs"
    jobs.start(runs / "first", synthetic_faces, steps=10_000, max_jobs=1, **tiny_job_args)
    try:
        with pytest.raises(RuntimeError, match="1 training job\\(s\\) already running \\(first\\); this server allows 1"):
            jobs.start(runs / "second", synthetic_faces, steps=10, max_jobs=1, **tiny_job_args)
        assert not (runs / "second").exists()
        assert jobs.running(runs) == [runs / "first"]
    finally:
        jobs.stop(runs / "first")
        assert wait_for(lambda: not jobs.status(runs / "first").running, 30)


def test_a_run_stopped_before_its_first_checkpoint_can_be_started_again(synthetic_faces, tmp_path, tiny_job_args):
    run = tmp_path / "run"
    jobs.start(run, synthetic_faces, steps=10_000, **tiny_job_args)
    assert jobs.stop(run)  # at once: long before a checkpoint
    assert wait_for(lambda: not jobs.status(run).running, 30)
    state = jobs.status(run)
    assert (state.step, state.why, state.can_resume) == (0, "stopped on request", True)

    jobs.resume(run)  # started again as it was launched: the tiny model, a checkpoint every step
    try:
        assert wait_for(lambda: jobs.status(run).step >= 1), jobs.status(run).log_tail
    finally:
        jobs.stop(run)
        assert wait_for(lambda: not jobs.status(run).running, 30)


def test_a_stopped_run_says_why(synthetic_faces, tmp_path, tiny_job_args):
    finished, failed, killed = tmp_path / "finished", tmp_path / "failed", tmp_path / "killed"
    jobs.start(finished, synthetic_faces, steps=2, **tiny_job_args)
    jobs.start(failed, tmp_path / "no such folder", steps=2, **tiny_job_args)
    assert wait_for(lambda: not jobs.status(finished).running and not jobs.status(failed).running, 600)
    assert jobs.status(finished).why == "finished its 2 steps"
    why = jobs.status(failed).why
    assert why.startswith("failed: Dataset folder") and why.endswith("no such folder does not exist.")

    (killed / jobs.LOG_FILE).parent.mkdir()
    (killed / jobs.JOB_FILE).write_text((finished / jobs.JOB_FILE).read_text().replace('"steps": 2', '"steps": 9'))
    state = jobs.status(killed)  # launched, then gone without a word (a reboot, say)
    assert state.why.startswith("stopped without finishing") and state.can_resume
    assert not jobs.status(tmp_path / "never started").can_resume


def test_a_traceback_is_read_as_the_exception_it_ends_in(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / jobs.LOG_FILE).write_text('Epoch 1/5\nTraceback (most recent call last):\n  File "x.py", line 1\n'
                                     "tensorflow.errors.ResourceExhaustedError: OOM when allocating\nI0000 shutdown\n")
    assert jobs.status(run).why == "failed: tensorflow.errors.ResourceExhaustedError: OOM when allocating"
