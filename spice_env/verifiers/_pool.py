"""Persistent sympy worker processes with a hard time limit that works from any thread.

``signal.alarm`` only works on the main thread, and a thread cannot be stopped, so the time
bound is a process boundary: a request is sent over a pipe, the caller waits with
``poll(timeout)``, and a worker that does not answer in time is killed and later replaced.
Workers are forked from a ``forkserver`` that has sympy preloaded (``spawn`` where forkserver
does not exist), so a replacement is ready in tens of milliseconds, and forking never copies
the caller's threads or locks.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
import time
from typing import Any

__all__ = ["WorkerPool", "default_pool", "shutdown"]

_STARTUP_TIMEOUT_S = 60.0


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # Effective only if the forkserver is not running yet; harmless otherwise.
        context.set_forkserver_preload(["spice_env.verifiers._symbolic"])
        return context
    return multiprocessing.get_context("spawn")


def _worker_entry(connection: Any, memory_mb: int) -> None:
    # Imported here so that the parent process never has to import sympy itself.
    from ._symbolic import worker_main

    worker_main(connection, memory_mb)


class _Worker:
    def __init__(self, context: Any, memory_mb: int) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker_entry,
            args=(child_end, memory_mb),
            daemon=True,
            name="spice-verifier-worker",
        )
        self.process.start()
        child_end.close()
        self.connection = parent_end
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        if self.connection.poll(timeout):
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                return False
            self.ready = isinstance(message, tuple) and message[0] == "ready"
        return self.ready

    def request(self, payload: tuple, timeout: float) -> tuple[bool, Any]:
        """Send one request; returns (answered, answer)."""
        try:
            self.connection.send(payload)
            if not self.connection.poll(max(timeout, 0.0)):
                return False, None
            return True, self.connection.recv()
        except (EOFError, OSError, ValueError):
            return False, None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=2.0)
        except (OSError, ValueError, AttributeError):
            pass
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
        self._context = None
        self._idle: list[_Worker] = []
        self._alive = 0
        self._condition = threading.Condition()
        self._pid = os.getpid()

    def _fork_guard(self) -> None:
        # A pool inherited through fork belongs to the parent; start afresh in the child.
        if os.getpid() != self._pid:
            self._idle, self._alive, self._pid = [], 0, os.getpid()
            self._condition = threading.Condition()

    def _acquire(self, timeout: float) -> _Worker | None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._idle and self._alive >= self.max_workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._condition.wait(remaining):
                    return None
            if self._idle:
                return self._idle.pop()
            self._alive += 1
        try:
            if self._context is None:
                self._context = _context()
            worker = _Worker(self._context, self.memory_mb)
        except Exception:
            self._discard(None)
            return None
        if not worker.wait_ready(_STARTUP_TIMEOUT_S):
            self._discard(worker)
            return None
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._condition:
            self._alive -= 1
            self._condition.notify()

    def run(self, gold: tuple, pred: tuple, timeout: float) -> bool | None:
        """Compare two trees with sympy in a worker, within ``timeout`` seconds.

        Returns:
            The worker's decision, or ``None`` on timeout, crash or undecidable input.
        """
        self._fork_guard()
        worker = self._acquire(timeout)
        if worker is None:
            return None
        answered, answer = worker.request((gold, pred), timeout)
        if not answered:
            self._discard(worker)  # it may be stuck in sympy: kill it, a fresh one replaces it
            return None
        self._release(worker)
        return answer if isinstance(answer, bool) else None

    def warm_up(self, count: int = 1) -> None:
        """Start ``count`` workers now so that the first checks do not pay the start-up."""
        self._fork_guard()
        workers = []
        for _ in range(min(count, self.max_workers)):
            worker = self._acquire(_STARTUP_TIMEOUT_S)
            if worker is not None:
                workers.append(worker)
        for worker in workers:
            self._release(worker)

    def close(self) -> None:
        """Stop all idle workers (busy ones are stopped when their request ends)."""
        with self._condition:
            idle, self._idle = self._idle, []
            self._alive -= len(idle)
        for worker in idle:
            with contextlib.suppress(OSError, ValueError):
                worker.connection.send(None)
            worker.kill()


_DEFAULT_POOL: WorkerPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool(memory_mb: int = 1_024) -> WorkerPool:
    """The process-wide pool, created on first use."""
    global _DEFAULT_POOL
    with _DEFAULT_LOCK:
        if _DEFAULT_POOL is None:
            _DEFAULT_POOL = WorkerPool(memory_mb=memory_mb)
        return _DEFAULT_POOL


def shutdown() -> None:
    """Stop the process-wide pool's workers (they are daemons and also stop at exit)."""
    with _DEFAULT_LOCK:
        if _DEFAULT_POOL is not None:
            _DEFAULT_POOL.close()


atexit.register(shutdown)
