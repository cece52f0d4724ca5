"""Runs ``texsynth`` commands in forked children that ``kill -9`` themselves at a chosen
moment of their writes; used by ``tests/test_kill.py`` (POSIX only, not a test module).

The driver imports texsynth (and torch) once, then reads one JSON job a line on stdin::

    {"argv": ["synth", ...], "kill": {"call": "replace", "n": 3, "when": "before"}}

and for each forks a child that runs ``texsynth.cli.main(argv)`` in the current folder. In
the child, ``os.replace`` and ``os.fsync`` (every move of a finished temporary into place,
and the flush of a temporary's bytes to disk) are wrapped: the ``n``-th call of ``call``
sends SIGKILL to the child itself just ``before`` or ``after`` it (``"kill": null``: no
kill). The parent answers each job with one JSON line: ``{"signal": 9 or null, "code":
exit status or null, "calls": {"replace": ..., "fsync": ...}}`` (the calls made, reported
by a child that was not killed). Nothing in texsynth itself knows about this: the hooks
exist only in these children.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def _child(job: dict, report_fd: int) -> None:
    import texsynth.cli

    calls = {"replace": 0, "fsync": 0}
    kill = job.get("kill")
    real = {"replace": os.replace, "fsync": os.fsync}

    def hooked(name: str):
        def call(*args, **kw):
            calls[name] += 1
            hit = kill is not None and kill["call"] == name and kill["n"] == calls[name]
            if hit and kill["when"] == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            out = real[name](*args, **kw)
            if hit and kill["when"] == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        return call

    os.replace = hooked("replace")
    os.fsync = hooked("fsync")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the command's messages must not mix with the driver's answers
    try:
        code = texsynth.cli.main(job["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 99
    sys.stderr.flush()
    os.write(report_fd, json.dumps(calls).encode())
    os.close(report_fd)
    os._exit(int(code or 0))


def main() -> None:
    import torch

    torch.set_num_threads(1)
    # everything the commands import lazily, so that each child starts at once
    import texsynth.cli  # noqa: F401
    import texsynth.cli.generators  # noqa: F401
    import texsynth.generators  # noqa: F401
    import texsynth.synthesis  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(job, w)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(r, "rb") as f:
            data = f.read()
        answer = {
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "calls": json.loads(data) if data else None,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
