"""Run a command-line tool's main() in the test's own process: what `python -m core.NAME ARGS...` does, without
starting Python and TensorFlow again for it (several seconds each on 2 cores). Tests of what only a process of its
own shows (a kill, an exit, an install, several workers) still start one."""
from __future__ import annotations

import importlib
import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass


@dataclass(frozen=True)
class Ran:
    """What the command did, as subprocess.run would report it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(module: str, *args: object) -> Ran:
    """module.main([str(arg) ...]) with its printing caught; SystemExit becomes the return code, as in a shell."""
    main = importlib.import_module(module).main
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:  # sys.exit("message"): Python prints it and exits 1
                print(exit_.code, file=err)
                code = 1
    return Ran(code, out.getvalue(), err.getvalue())
