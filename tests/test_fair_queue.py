"""The completion queue of a shared server: slots respected, first come first served, places shown."""
import threading
import time

import pytest

from core.fair_queue import FairQueue


def run_users(queue: FairQueue, count: int, hold: float = 0.05):
    served, places, active, most = [], {i: [] for i in range(count)}, [0], [0]
    lock = threading.Lock()

    def user(i: int) -> None:
        with queue.turn(on_wait=places[i].append, poll=0.01):
            with lock:
                served.append(i)
                active[0] += 1
                most[0] = max(most[0], active[0])
            time.sleep(hold)
            with lock:
                active[0] -= 1

    threads = []
    for i in range(count):
        threads.append(threading.Thread(target=user, args=(i,)))
        threads[-1].start()
        # User i is in line (or already served: on a busy machine it may be done before this loop looks) before
        # user i+1 arrives. Counting only those waiting or active once looped for ever (CI on two workers).
        while i and queue.waiting() + len(served) < i + 1:
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return served, places, most[0]


def test_users_are_served_in_the_order_they_asked():
    served, places, most = run_users(FairQueue(1), 6)
    assert served == list(range(6)) and most == 1
    assert places[5][0] >= places[5][-1] == 1  # the last user saw its place count down to next in line


def test_two_slots_serve_two_at_once():
    served, _, most = run_users(FairQueue(2), 6, hold=0.1)
    assert sorted(served) == list(range(6)) and most == 2


def test_a_user_who_leaves_the_line_frees_their_place():
    queue = FairQueue(1)
    release = threading.Event()

    def holder():
        with queue.turn():
            release.wait(5)

    threading.Thread(target=holder).start()
    while queue.waiting() or not queue._running:
        time.sleep(0.001)

    def leave(place):
        raise RuntimeError("the page was closed")

    with pytest.raises(RuntimeError):
        with queue.turn(on_wait=leave, poll=0.01):
            pass
    assert queue.waiting() == 0
    release.set()
    with queue.turn(poll=0.01):  # the line still moves
        pass
