"""The audit write-behind queue: every event put is handed to the sink exactly once, in order, whatever
fails in between (a sink that raises, a sink that cannot be opened yet)."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from serving.scoring.writebehind import WriteBehind


class FlakySink:
    """A sink whose n-th hand-over fails when ``fails[n]`` is true (then works)."""

    def __init__(self, fails: list[bool]) -> None:
        self.fails = list(fails)
        self.calls = 0
        self.written: list = []

    def __call__(self, events) -> None:
        n, self.calls = self.calls, self.calls + 1
        if n < len(self.fails) and self.fails[n]:
            raise RuntimeError("down")
        self.written.extend(events)


@settings(max_examples=40, deadline=None)
@given(requests=st.lists(st.lists(st.integers(0, 10**6), min_size=1, max_size=5), min_size=1, max_size=30),
       fails=st.lists(st.booleans(), max_size=8), closed=st.lists(st.booleans(), max_size=4))
def test_every_event_is_written_once_in_order_despite_failures(requests, fails, closed):
    sink = FlakySink(fails)
    opens = iter(closed)  # True: the sink cannot be opened on that attempt

    def open_sink():
        return None if next(opens, False) else sink

    w = WriteBehind(open_sink, retry_seconds=60.0)
    for events in requests:
        w.put(events)
    for _ in range(len(fails) + len(closed) + 2):
        if w.flush(5.0, retry=True):
            break
    assert w.flush(5.0, retry=True)
    assert sink.written == [e for events in requests for e in events]
    assert w.stats()["pending"] == 0 and w.stats()["dropped"] == 0
    w.close()


def test_put_does_not_wait_for_the_sink():
    gate = threading.Event()
    written: list = []

    def slow(events):
        gate.wait(10)
        written.extend(events)

    w = WriteBehind(lambda: slow)
    w.put([1])
    w.put([2, 3])  # returns at once although the first hand-over is still blocked
    assert written == [] and w.pending() >= 1
    gate.set()
    assert w.flush(5.0)
    assert written == [1, 2, 3]
    w.close()


def test_a_failing_sink_does_not_make_flush_wait_and_the_events_stay_queued():
    def broken(events):
        raise RuntimeError("down")

    w = WriteBehind(lambda: broken, retry_seconds=60.0)
    w.put(["a"])
    assert not w.flush(5.0, retry=True)
    assert not w.flush(5.0)  # returns at once while the sink is failing
    assert w.stats()["pending"] == 1 and w.stats()["failures"] >= 1
    w.close(0.1)


def test_beyond_the_bound_the_oldest_events_are_dropped_and_counted(caplog):
    w = WriteBehind(lambda: None, retry_seconds=60.0, max_events=3)
    w.put([1, 2])
    w.put([3, 4, 5])
    assert w.stats()["dropped"] >= 2 and w.stats()["pending"] <= 3
    assert "dropped" in caplog.text
    w.close(0.1)


def test_events_of_requests_close_in_time_share_one_hand_over():
    import time

    calls: list[list] = []
    w = WriteBehind(lambda: calls.append, linger_seconds=1.0)
    for i in range(20):  # 20 requests over about 0.1 s, no flush: the writer lingers, then writes once
        w.put([i])
        time.sleep(0.005)
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls == [list(range(20))]
    w.close()
