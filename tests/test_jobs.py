"""Background training as the Train page uses it: start, status, stop, resume; plus the loss plot."""
import time

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
