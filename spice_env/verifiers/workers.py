"""Sympy worker processes with a hard time limit that works from any thread.

``signal.alarm`` only works on the main thread, and a thread cannot be stopped, so the time
bound is a process boundary: a request is sent over a socket, the caller waits at most until
its deadline, and a worker that has not answered by then is killed and replaced.

Workers never run user code. They are not started with ``multiprocessing`` (whose ``spawn`` and
``forkserver`` children re-import the caller's ``__main__``: a script without an
``if __name__ == "__main__":`` guard would run again, a script read from stdin would print
tracebacks). Instead one zygote process is started with ``python -I -c`` and imports only
this package and sympy; it forks the workers, so a replacement is ready in milliseconds and
the caller's threads and locks are never copied. Each worker caps its own address space.

Needs ``fork`` and file-descriptor passing (Linux, macOS). Elsewhere :meth:`WorkerPool.run`
answers ``None`` and the checks that need sympy are ``inconclusive``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ._worker import receive, send

__all__ = ["WorkerPool", "default_pool", "shutdown", "supported"]

_STARTUP_TIMEOUT_S = 120.0
_BOOTSTRAP = (
    "import sys, json; sys.path[:] = json.loads(sys.argv.pop(1)); "
    "from spice_env.verifiers._worker import main; main()"
)


def supported() -> bool:
    """Whether worker processes can run on this platform (``fork`` and fd passing)."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def _child_path() -> list[str]:
    """This interpreter's import path, absolute, so the zygote imports the same package."""
    paths = []
    for entry in sys.path:
        absolute = os.path.abspath(entry or os.curdir)
        if absolute not in paths:
            paths.append(absolute)
    return paths


class _Zygote:
    """The process that forks workers; started on first use, restarted if it dies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _BOOTSTRAP,
                    json.dumps(_child_path()),
                    "zygote",
                    str(theirs.fileno()),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,  # a Ctrl-C in the caller's terminal is for the caller
            )
        finally:
            theirs.close()
        message = receive(ours, _STARTUP_TIMEOUT_S)
        if not (isinstance(message, tuple) and message[0] == "ready"):
            raise OSError(f"unexpected zygote greeting {message!r}")
        self.control = ours

    def fork_worker(self, memory_mb: int) -> tuple[socket.socket, int]:
        """A new worker: (its socket, its pid)."""
        with self.lock:
            for attempt in range(2):
                if self.control is None:
                    self._start()
                assert self.control is not None
                ours, theirs = socket.socketpair()
                try:
                    socket.send_fds(
                        self.control, [str(memory_mb).encode("ascii")], [theirs.fileno()]
                    )
                    pid = receive(self.control, _STARTUP_TIMEOUT_S)
                    return ours, int(pid)
                except (OSError, EOFError, TimeoutError, ValueError, TypeError):
                    ours.close()
                    self.close()  # it died: start a fresh one once
                    if attempt:
                        raise
                finally:
                    theirs.close()
        raise OSError("zygote unavailable")

    def close(self) -> None:
        if self.control is not None:
            with contextlib.suppress(OSError):
                self.control.close()
            self.control = None
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None


class _Worker:
    def __init__(self, zygote: _Zygote, memory_mb: int) -> None:
        self.connection, self.pid = zygote.fork_worker(memory_mb)
        message = receive(self.connection, _STARTUP_TIMEOUT_S)
        if not (isinstance(message, tuple) and message[0] == "ready"):
            self.kill()
            raise OSError("worker did not start")

    def request(self, payload: tuple, timeout: float | None) -> tuple[bool, Any]:
        """Send one request; returns (answered, answer)."""
        try:
            send(self.connection, payload)
            return True, receive(self.connection, None if timeout is None else max(timeout, 1e-3))
        except (EOFError, OSError, TimeoutError, ValueError):
            return False, None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.connection.close()


class WorkerPool:
    """A bounded set of sympy workers shared by all threads of this process.

    Args:
        max_workers: Most worker processes alive at once.
        memory_mb: Address-space head-room for each worker.
    """

    def __init__(self, max_workers: int | None = None, memory_mb: int = 1_024) -> None:
        self.max_workers = max_workers or max(2, min(8, os.cpu_count() or 2))
        self.memory_mb = memory_mb
        self._zygote = _Zygote()
        self._idle: list[_Worker] = []
        self._alive = 0
        self._condition = threading.Condition()
        self._pid = os.getpid()
        self._starting = 0
        self._ever_ready = False

    def _fork_guard(self) -> None:
        # A pool inherited through fork belongs to the parent; start afresh in the child.
        if os.getpid() != self._pid:
            self._idle, self._alive, self._starting, self._pid = [], 0, 0, os.getpid()
            self._condition = threading.Condition()
            self._zygote = _Zygote()
            self._ever_ready = False

    def _new_worker(self) -> None:
        """Start one worker and put it in the idle list (run in a background thread)."""
        try:
            worker = _Worker(self._zygote, self.memory_mb)
        except Exception:  # no worker this time: release the slot, callers see None
            with self._condition:
                self._alive -= 1
                self._starting -= 1
                self._condition.notify_all()
            return
        with self._condition:
            self._starting -= 1
            self._ever_ready = True
            self._idle.append(worker)
            self._condition.notify_all()

    def _start_one_locked(self) -> None:
        self._alive += 1
        self._starting += 1
        threading.Thread(target=self._new_worker, name="spice-worker-start", daemon=True).start()

    def _acquire(self, timeout: float) -> _Worker | None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._idle:
                if self._alive < self.max_workers and self._starting == 0:
                    self._start_one_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)
            return self._idle.pop()

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._condition:
            self._alive -= 1
            # Replace it at once, so that the next caller finds a worker ready.
            if self._alive < self.max_workers and self._starting == 0:
                self._start_one_locked()
            self._condition.notify_all()

    def run(self, gold: tuple, pred: tuple, timeout: float) -> bool | None:
        """Compare two trees with sympy in a worker, within ``timeout`` seconds.

        The first request of a process also waits for the zygote to start (it imports sympy,
        about a second; :meth:`warm_up` does it ahead of time), and then still gets its full
        ``timeout``. Later workers are forked in milliseconds, so waiting for one counts.

        Args:
            gold: The parsed gold (a scalar tree).
            pred: The parsed prediction.
            timeout: Seconds left; waiting for a free worker counts too.

        Returns:
            The worker's decision, or ``None`` on timeout, crash or undecidable input.
        """
        if not supported():
            return None
        self._fork_guard()
        cold = not self._ever_ready
        start = time.monotonic()
        worker = self._acquire(max(timeout, _STARTUP_TIMEOUT_S) if cold else timeout)
        if worker is None:
            return None
        remaining = timeout if cold else timeout - (time.monotonic() - start)
        answered, answer = worker.request(("decide", gold, pred, remaining), remaining)
        if not answered:
            self._discard(worker)  # it may be stuck in sympy: kill it, a fresh one replaces it
            return None
        self._release(worker)
        return answer if isinstance(answer, bool) else None

    def map_rows(self, chunks: Sequence[list], config: Any) -> list[list] | None:
        """Check chunks of ``(gold, prediction, type, options)`` rows in parallel workers.

        Args:
            chunks: Row lists, one request each.
            config: The ``VerifierConfig`` to check them with.

        Returns:
            One result list per chunk, or ``None`` when workers are not available (the caller
            then checks in-process).
        """
        if not supported():
            return None
        self._fork_guard()
        results: list[list | None] = [None] * len(chunks)
        # Each chunk may take a while; its own checks carry their own deadlines.
        limit = 60.0 + config.timeout_s * max((len(chunk) for chunk in chunks), default=0) * 2

        def work(index: int) -> None:
            try:
                worker = _Worker(self._zygote, self.memory_mb)
            except Exception:
                return
            try:
                answered, answer = worker.request(("check_many", chunks[index], config), limit)
                if answered and isinstance(answer, list):
                    results[index] = answer
            finally:
                worker.kill()

        threads = [
            threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(chunks))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if any(result is None for result in results):
            return None
        return results  # type: ignore[return-value]

    def warm_up(self, count: int = 1, timeout: float = _STARTUP_TIMEOUT_S) -> None:
        """Start ``count`` workers now and wait for them, so that the first checks do not
        pay the start-up (the zygote imports sympy once, about a second)."""
        if not supported():
            return
        self._fork_guard()
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._alive < min(count, self.max_workers):
                self._alive += 1
                self._starting += 1
                threading.Thread(target=self._new_worker, daemon=True).start()
            while len(self._idle) < min(count, self._alive) and time.monotonic() < deadline:
                self._condition.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop all idle workers and the zygote (busy workers stop when their request ends)."""
        with self._condition:
            idle, self._idle = self._idle, []
            self._alive -= len(idle)
        for worker in idle:
            with contextlib.suppress(OSError):
                send(worker.connection, None)
            worker.kill()
        self._zygote.close()


_DEFAULT_POOL: WorkerPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool(memory_mb: int = 1_024) -> WorkerPool:
    """The process-wide pool, created on first use.

    Args:
        memory_mb: Address-space head-room per worker (used when the pool is created).

    Returns:
        The pool.
    """
    global _DEFAULT_POOL
    with _DEFAULT_LOCK:
        if _DEFAULT_POOL is None:
            _DEFAULT_POOL = WorkerPool(memory_mb=memory_mb)
        return _DEFAULT_POOL


def shutdown() -> None:
    """Stop the process-wide pool's workers and zygote (they also stop when this process
    exits: each one sees its socket close)."""
    with _DEFAULT_LOCK:
        if _DEFAULT_POOL is not None:
            _DEFAULT_POOL.close()


atexit.register(shutdown)
