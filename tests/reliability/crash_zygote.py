"""A fork server for the crash trials: imports the connector once, then forks one process per start.

A fresh interpreter spends about 1.2 s importing the connector, most of a short `sync` and
most of what the crash trials cost. The zygote imports it once; each start is a `fork()`
that becomes `saber-connector ARGS` with its own argv, environment, working directory and
standard streams, as a shell would start it, and can be SIGKILLed like any process.

Protocol (JSON lines): the parent writes `{"id", "args", "env", "cwd", "out", "err"}` to
the zygote's stdin; the zygote answers `{"id", "pid"}` on stdout and, when a child ends,
`{"exit": pid, "code": code}` (negative: killed by that signal). The zygote has a single
thread, so forking it is safe; it exits when its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import sys
from typing import Any


def become(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In a forked child: run the CLI with these argv, environment, directory and streams; never returns."""
    code: object = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(path, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdin
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        random.seed()  # not the zygote's sequence: every child draws its own jitter
        sys.argv = ["saber-connector", *args]
        from connector.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
    except BaseException:  # noqa: BLE001 - what an interpreter prints before exiting 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _reap() -> None:
    """Report every child that ended since the last look."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


# What the CLI's commands import when they run (lazily, so that `--help` is quick).
PRELOAD = (
    "connector.cli",
    "connector.clients",
    "connector.commands.sync",
    "connector.sync.engine",
    "connector.service.service",
    "connector.state",
    "connector.portal",
    "connector.commands.setup",
)


def serve() -> None:
    import importlib

    for name in PRELOAD:  # the point: imported once, shared by every fork
        importlib.import_module(name)

    buffer = b""
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.01)
        if ready:
            chunk = os.read(stdin, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    become(request["args"], request["env"], request["cwd"], request["out"], request["err"])
                _send({"id": request["id"], "pid": pid})
        _reap()


if __name__ == "__main__":
    serve()
