"""Training in a background process, for the app: start, stop, resume, status.

The app never trains in its own process: start() launches `python -m core.jobs`,
which aligns the dataset if asked and then runs core.train in the run folder.
Its pid and log live in the run folder, so any session of the app can find it.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from core.cli import argument_parser
from core.train import RUN_JSON, read_checkpoint_state
from core.weights import write_json

PID_FILE = "job.pid"
LOG_FILE = "job.log"
JOB_FILE = "job.json"  # how the job was launched: a run can be started again before it wrote run.json
STOPPED_FILE = "job.stopped"  # written by stop(): the run was stopped on request
ALIGNED_FILE = "alignment.json"  # in OUT/aligned, once every photo was aligned
ACTIVE_FILE = "ACTIVE"  # in the runs folder: which run's model the app uses
MAX_RUN_NAME = 64


def check_run_name(name: str) -> str:
    """A run name fit for a folder: 1 to 64 letters, digits, - and _. Raises ValueError saying what is wrong."""
    if not name or not name.replace("-", "").replace("_", "").isalnum() or not name.isascii():
        raise ValueError("A run name may hold letters, digits, - and _ only.")
    if len(name) > MAX_RUN_NAME:
        raise ValueError(f"A run name may be at most {MAX_RUN_NAME} characters long (this one has {len(name)}).")
    return name


@dataclass
class JobStatus:
    running: bool
    step: int  # last checkpoint
    log_tail: str
    why: str = ""  # why a job that is not running stopped, in words
    can_resume: bool = False  # a stopped job can be resumed, or started again when it has no checkpoint


def _pid(run_dir: Path) -> int | None:
    try:
        pid = int((run_dir / PID_FILE).read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    if not _is_job_of(pid, run_dir):  # a stale pid file (after a reboot, say) names another process
        return None
    try:  # reap the job if it is this process's child and has finished
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:
        pass
    return None if _is_zombie(pid) else pid


def _is_job_of(pid: int, run_dir: Path) -> bool:
    """Whether pid is the job that wrote run_dir's pid file, not a process that reused the number
    (after a reboot, say). Linux: it started before the file was written and, once its command
    line is readable, runs `core.jobs --out run_dir`. Elsewhere: assume it is."""
    if not Path("/proc/self").exists():
        return True
    try:
        ticks = int(_proc_stat(pid)[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        written = (run_dir / PID_FILE).stat().st_mtime
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    if started > written + 2:
        return False
    if args == [""]:  # just forked: the command line is not there yet
        return True
    if "core.jobs" not in args or "--out" not in args[:-1]:
        return False
    return Path(args[args.index("--out") + 1]).resolve() == Path(run_dir).resolve()


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first, start time at index 19)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _is_zombie(pid: int) -> bool:
    """A finished job that another process started and has not reaped yet (Linux; elsewhere assume not)."""
    try:
        return _proc_stat(pid)[0] == "Z"
    except (OSError, IndexError):
        return False


def _launch(run_dir: Path) -> dict | None:
    """How the run's job was launched (data, steps, align, train_args), from job.json or, for a run started before
    job.json existed, from its run.json; None when neither is there (or is readable)."""
    try:
        if (run_dir / JOB_FILE).is_file():
            return json.loads((run_dir / JOB_FILE).read_text())
        saved = json.loads((run_dir / RUN_JSON).read_text())
        return {"data": saved["card"]["data"], "steps": int(saved["train"]["steps"]), "align": False, "train_args": {}}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _failure(log_lines: list[str]) -> str | None:
    """What a failed job said last: a command-line tool's "error: ..." line, or the exception a traceback ends in."""
    traceback = any(line.startswith("Traceback") for line in log_lines)
    for line in reversed(log_lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ").strip()
        if traceback and re.match(r"[\w.]+(Error|Exception)\b", line):
            return line.strip()
    return None


def status(run_dir: Path) -> JobStatus:
    log = run_dir / LOG_FILE
    tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
    step = read_checkpoint_state(run_dir)["step"]
    if _pid(run_dir) is not None:
        return JobStatus(True, step, tail)
    launch = _launch(run_dir)
    lines = [line for line in tail.splitlines() if line.strip()]
    if launch is not None and step >= launch["steps"]:
        why = f"finished its {launch['steps']} steps"
    elif (run_dir / STOPPED_FILE).is_file():
        why = "stopped on request"
    elif failure := _failure(lines):
        why = f"failed: {failure}"
    else:
        why = "stopped without finishing (the server restarted, or the job was killed)"
    return JobStatus(False, step, tail, why, launch is not None)


def running(runs: Path) -> list[Path]:
    """The run folders under runs whose job is running now."""
    return [run for run in sorted(Path(runs).glob("*")) if (run / PID_FILE).is_file() and _pid(run) is not None]


def start(run_dir: Path, data_dir: Path, steps: int, align: bool = False, resume: bool = False,
          max_jobs: int | None = None, **train_args) -> int:
    """Launch training in a new process; returns its pid. Refuses if one already runs here,
    or if max_jobs jobs already run in the same runs folder (each takes over a GB and both cores)."""
    if _pid(run_dir) is not None:
        raise RuntimeError(f"A training job is already running in {run_dir}.")
    busy = running(run_dir.parent)
    if max_jobs is not None and len(busy) >= max_jobs:
        names = ", ".join(run.name for run in busy)
        raise RuntimeError(f"{len(busy)} training job(s) already running ({names}); this server allows {max_jobs}. "
                           "Stop one, or wait for it to finish.")
    run_dir.mkdir(parents=True, exist_ok=True)
    data = str(Path(data_dir).resolve())
    write_json(run_dir / JOB_FILE, {"data": data, "steps": steps, "align": align, "train_args": train_args})
    (run_dir / STOPPED_FILE).unlink(missing_ok=True)
    command = [sys.executable, "-m", "core.jobs", "--data", data, "--out",
               str(run_dir.resolve()), "--steps", str(steps)]
    command += ["--align"] * align + ["--resume"] * resume
    for name, value in train_args.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    with open(run_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent, start_new_session=True,
        )
    (run_dir / PID_FILE).write_text(str(process.pid))
    return process.pid


def resume(run_dir: Path, max_jobs: int | None = None) -> int:
    """Continue a stopped run from its last checkpoint towards its planned steps (at least 100 more), or start it
    again as it was launched when it stopped before its first checkpoint."""
    launch = _launch(run_dir)
    if launch is None:
        raise RuntimeError(f"{run_dir.name} has no record of how it was started: start a new run instead.")
    steps = max(int(launch["steps"]), read_checkpoint_state(run_dir)["step"] + 100)
    return start(run_dir, Path(launch["data"]), steps, align=launch["align"], resume=True, max_jobs=max_jobs,
                 **launch["train_args"])


def stop(run_dir: Path) -> bool:
    """Stop the run's job (it resumes later from its last checkpoint). False if none ran."""
    pid = _pid(run_dir)
    if pid is None:
        return False
    (run_dir / STOPPED_FILE).write_text("stopped on request\n")
    os.killpg(pid, signal.SIGTERM)
    return True


def main(argv: list[str] | None = None) -> None:
    from core.align import align_folder
    from core.train import main as train_main

    parser = argument_parser("Align (optionally) and train: the app's background job.")
    parser.add_argument("--data", type=Path, required=True, help="folder of face photos, or of aligned faces")
    parser.add_argument("--out", type=Path, required=True, help="the run folder; every other option goes to core.train")
    parser.add_argument("--align", action="store_true", help="align the photos into OUT/aligned first")
    args, train_args = parser.parse_known_args(argv)
    data = args.data
    if args.align:
        data = args.out / "aligned"
        if not (data / ALIGNED_FILE).is_file():  # a job stopped halfway through aligning aligns them all again
            counts = align_folder(args.data, data)
            write_json(data / ALIGNED_FILE, dict(counts))
            print("alignment: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    train_main(["--data", str(data), "--out", str(args.out), *train_args])


if __name__ == "__main__":
    main()
