"""First come, first served turns at the expensive work of a shared server.

One completion already keeps both cores busy, so the app lets `slots` run at once and
the rest wait in line, served in the order they asked, each told its place while it waits.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class FairQueue:
    """At most `slots` holders at once; waiters are served in arrival order."""

    def __init__(self, slots: int = 1):
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._running = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, poll: float = 0.5) -> Iterator[None]:
        """Wait for this caller's turn, then hold a slot for the with-block.

        on_wait(place) is called while waiting (place 1 = next in line), outside the lock, so
        it may update a page; if it (or anything) raises, the caller leaves the line.
        """
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
        try:
            while True:
                with self._changed:
                    place = self._waiting.index(ticket)
                    if place == 0 and self._running < self.slots:
                        self._waiting.popleft()
                        self._running += 1
                        break
                if on_wait is not None:
                    on_wait(place + 1)
                with self._changed:
                    self._changed.wait(timeout=poll)
        except BaseException:
            with self._changed:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._changed.notify_all()
            raise
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()
