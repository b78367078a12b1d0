"""The worker side of :mod:`.workers`: a zygote process that forks sympy workers.

This module runs only in processes the pool starts with ``python -I -c`` (never through
``multiprocessing``, whose start methods re-import the caller's ``__main__``, running a user's
script a second time). The zygote imports sympy once, then forks one worker per request it
gets on its control socket, so that replacing a killed worker costs a fork, not an import.

Messages are pickled Python values with an 8-byte length prefix, over Unix sockets. Both ends
are this package's own code; no model text is ever unpickled from anywhere else.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
from typing import Any

__all__ = ["main", "receive", "send"]

_HEADER = 8


def send(connection: socket.socket, message: Any) -> None:
    """Send one message (pickled, length-prefixed)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    connection.sendall(len(data).to_bytes(_HEADER, "big") + data)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = connection.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(connection: socket.socket, timeout: float | None = None) -> Any:
    """Receive one message; ``TimeoutError`` when none starts within ``timeout`` seconds.

    Raises:
        EOFError: The other end closed the connection.
        TimeoutError: Nothing arrived in time (the message may still come later).
    """
    connection.settimeout(timeout)  # socket.timeout is TimeoutError
    size = int.from_bytes(_read_exactly(connection, _HEADER), "big")
    # Once a header has arrived, the body follows at once: wait for it without a limit.
    connection.settimeout(None)
    return pickle.loads(_read_exactly(connection, size))


def _limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at its current size plus ``extra_mb``."""
    try:
        import resource
    except ImportError:  # not on this platform: rely on the time limit alone
        return
    current = 512 * 1024 * 1024
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    current = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    limit = current + extra_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


class _OwnDeadline(Exception):
    """Raised by this worker's own alarm: a request outlived its time limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _OwnDeadline


def _answer(request: tuple) -> Any:
    kind = request[0]
    if kind == "decide":
        from ._symbolic import decide

        _, gold, pred, timeout = request
        # A second bound, from inside: if the parent died (and cannot kill us), the worker
        # still stops this request shortly after its limit.
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.01) + 1.0)
        try:
            return decide(gold, pred)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if kind == "check_many":
        from .api import check_rows

        _, rows, config = request
        return check_rows(rows, config)
    return None


def _serve(connection: socket.socket, memory_mb: int) -> None:
    """Answer requests until the connection closes or a ``None`` arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGALRM, _on_alarm)
    _limit_memory(memory_mb)
    send(connection, ("ready", os.getpid()))
    while True:
        try:
            request = receive(connection)
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            answer = _answer(request)
        except (_OwnDeadline, MemoryError, RecursionError, Exception):
            answer = None
        try:
            send(connection, answer)
        except OSError:
            return


def _zygote(control: socket.socket) -> None:
    """Fork a worker for each request on ``control``; exit when the pool closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps exited workers
    # Preload what workers need, so a fork is all a new worker costs.
    import sympy  # noqa: F401

    from . import _symbolic, api  # noqa: F401

    send(control, ("ready", os.getpid()))
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1024, 1)
        except OSError:
            return
        if not data or not fds:
            return
        memory_mb = int(data.decode("ascii"))
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _serve(socket.socket(fileno=fds[0]), memory_mb)
            finally:
                os._exit(0)
        os.close(fds[0])
        try:
            send(control, pid)
        except OSError:
            return


def main() -> None:
    """Entry point: ``zygote FD`` (the pool's control socket is file descriptor FD)."""
    if len(sys.argv) != 3 or sys.argv[1] != "zygote":
        raise SystemExit("usage: zygote FD (started by spice_env.verifiers.workers)")
    # Nothing may reach the parent's terminal: errors surface as missing answers instead.
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(devnull, stream)
    _zygote(socket.socket(fileno=int(sys.argv[2])))
