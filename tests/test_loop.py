"""The private loop thread: results, streams, early exit, Ctrl-C, and use from another event loop."""

from __future__ import annotations

import asyncio
import gc
import threading
from contextlib import aclosing

import pytest

from puter_magic.core.loop import LoopThread, Stop, default_loop


@pytest.fixture
def loop_thread():
    thread = LoopThread(name="test-loop")
    yield thread
    thread.close()


def test_run_returns_results_and_raises_errors_on_the_caller(loop_thread):
    async def answer():
        return threading.current_thread().name

    assert loop_thread.run(answer()) == "test-loop"

    async def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        loop_thread.run(fail())


def test_the_loop_starts_lazily_and_is_shared(loop_thread):
    assert not loop_thread.running
    loop_thread.run(asyncio.sleep(0))
    assert loop_thread.running
    assert default_loop() is default_loop()


def counting(count: int, pause_every: int):
    """A stream of 0 to count - 1 that lets the loop run its other tasks every `pause_every` items."""

    async def numbers():
        for i in range(count):
            yield i
            if i % pause_every == 0:
                await asyncio.sleep(0)

    return numbers


def test_iterate_hands_over_every_item_in_order(loop_thread):
    assert list(loop_thread.iterate(counting(1000, pause_every=100))) == list(range(1000))


def test_iterate_reraises_the_producer_error_after_its_items(loop_thread):
    async def broken():
        yield 1
        yield 2
        raise RuntimeError("stream broke")

    seen = []
    with pytest.raises(RuntimeError, match="stream broke"):
        for item in loop_thread.iterate(broken):
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_early_cancels_the_producer_and_waits_for_its_cleanup(loop_thread):
    closed = threading.Event()

    async def endless():
        try:
            while True:
                yield "tick"
                await asyncio.sleep(0.001)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits, like closing a connection
            closed.set()

    for _ in loop_thread.iterate(endless):
        break
    assert closed.is_set()


def test_ctrl_c_while_blocked_cancels_the_work(loop_thread, ctrl_c):
    started = threading.Event()
    cleaned = threading.Event()

    async def long_request():
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.set()

    ctrl_c.press_when(started)
    with pytest.raises(KeyboardInterrupt):
        loop_thread.run(long_request())
    assert cleaned.is_set()
    assert loop_thread.run(asyncio.sleep(0, result="usable")) == "usable"


def test_blocking_from_the_loop_thread_itself_is_refused(loop_thread):
    async def inner():
        return loop_thread.run(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="deadlock"):
        loop_thread.run(inner())


def test_async_callers_on_another_loop(loop_thread):
    async def where():
        return asyncio.get_running_loop()

    async def numbers():
        for i in range(5):
            yield i

    async def caller():
        mine = asyncio.get_running_loop()
        theirs = await loop_thread.run_async(where())
        items = [i async for i in loop_thread.aiterate(numbers)]
        return mine is not theirs, items

    different, items = asyncio.run(caller())
    assert different
    assert items == [0, 1, 2, 3, 4]


def one_then_silence(closed: threading.Event):
    """A stream that sends one item, then waits for the next one forever (a model thinking), cleaning up on exit."""

    async def source():
        try:
            yield "first"
            await asyncio.sleep(3600)
            yield "never"
        finally:
            closed.set()

    return source


def test_a_stop_from_another_thread_ends_an_iteration_that_waits_for_an_item(loop_thread):
    closed = threading.Event()
    stop = Stop()
    seen = []
    for item in loop_thread.iterate(one_then_silence(closed), stop=stop):
        seen.append(item)
        threading.Thread(target=stop.request).start()
    assert seen == ["first"]
    assert closed.is_set(), "the producer was cancelled and its cleanup ran before iterate() returned"
    assert stop.requested


def test_a_stop_requested_before_the_iteration_starts_ends_it_at_once(loop_thread):
    closed = threading.Event()
    stop = Stop()
    stop.request()
    stop.request()  # twice is harmless
    assert list(loop_thread.iterate(one_then_silence(closed), stop=stop)) == []


def test_a_stop_ends_an_async_iteration_and_cancels_an_awaited_result(loop_thread):
    closed = threading.Event()

    async def caller():
        stop = Stop()
        seen = []
        async with aclosing(loop_thread.aiterate(one_then_silence(closed), stop=stop)) as items:
            async for item in items:
                seen.append(item)
                threading.Thread(target=stop.request).start()
        later = Stop()
        asyncio.get_running_loop().call_soon(later.request)
        with pytest.raises(asyncio.CancelledError):
            await loop_thread.run_async(asyncio.sleep(3600), stop=later)
        return seen, later.requested

    seen, requested = asyncio.run(caller())
    assert seen == ["first"] and requested
    assert loop_thread.run(asyncio.sleep(0, result="usable")) == "usable"
    assert closed.wait(5), "the producer on the loop thread was cancelled"


def test_a_producer_that_outlives_its_async_consumers_loop_ends_quietly(loop_thread):
    """The consumer left early and asyncio.run() closed its loop before the producer's cleanup handed its
    last batch over: that hand-off has nobody to go to, and must not fail the producer."""
    release, closed = threading.Event(), threading.Event()

    async def slow_cleanup():
        try:
            yield "first"
            await asyncio.sleep(3600)
        finally:
            await asyncio.to_thread(release.wait, 5)
            closed.set()

    async def leave_early():
        async with aclosing(loop_thread.aiterate(slow_cleanup)) as items:
            async for _ in items:
                break
        return asyncio.current_task().get_loop()

    reported = []
    loop_thread.loop.set_exception_handler(lambda loop, context: reported.append(context))
    finished_loop = asyncio.run(leave_early())
    assert finished_loop.is_closed()
    release.set()
    assert closed.wait(5)
    for _ in range(3):  # the producer's task finishes, and is collected: an unretrieved error is reported then
        loop_thread.run(asyncio.sleep(0))
    gc.collect()
    assert loop_thread.run(asyncio.sleep(0, result="usable")) == "usable"
    assert reported == []


def endless_counter(counted: list[int], bound: int = 1_000_000):
    """A producer that never waits for anything: only the hand-off's window can pause it. It gives up at
    `bound` so that an unbounded hand-off fails the test instead of running forever."""

    async def source():
        while counted[0] < bound:
            counted[0] += 1
            yield counted[0]

    return source


def test_a_consumer_that_stops_taking_items_pauses_the_producer_after_a_bounded_number(loop_thread):
    counted = [0]
    items = loop_thread.iterate(endless_counter(counted), window=100)
    assert next(items) == 1
    loop_thread.run(asyncio.sleep(0))  # the producer runs before this does, until it waits for room
    assert 100 <= counted[0] <= 200, "one window taken by the consumer, at most one more waiting for it"
    taken = [next(items) for _ in range(499)]
    assert taken == list(range(2, 501)), "reading again resumes the producer, in order, nothing lost"
    loop_thread.run(asyncio.sleep(0))
    assert counted[0] <= 500 + 200
    items.close()


def test_an_async_consumer_that_stops_taking_items_pauses_the_producer_too(loop_thread):
    counted = [0]

    async def consume():
        async with aclosing(loop_thread.aiterate(endless_counter(counted), window=100)) as items:
            first = await anext(items)
            await loop_thread.run_async(asyncio.sleep(0))
            paused_at = counted[0]
            rest = [await anext(items) for _ in range(299)]
        return first, paused_at, rest

    first, paused_at, rest = asyncio.run(consume())
    assert first == 1 and rest == list(range(2, 301))
    assert 100 <= paused_at <= 200


def test_a_fast_consumer_gets_everything_through_a_small_window(loop_thread):
    numbers = counting(10_000, pause_every=37)
    assert list(loop_thread.iterate(numbers, window=7)) == list(range(10_000))

    async def consume():
        return [i async for i in loop_thread.aiterate(numbers, window=7)]

    assert asyncio.run(consume()) == list(range(10_000))


def test_a_producer_waiting_for_room_is_cancelled_and_cleaned_up_when_the_consumer_leaves(loop_thread):
    closed = threading.Event()

    async def endless():
        try:
            i = 0
            while True:
                i += 1
                yield i
        finally:
            closed.set()

    for _ in loop_thread.iterate(endless, window=10):
        loop_thread.run(asyncio.sleep(0))  # the producer is now waiting for room, outside the generator
        break
    assert closed.is_set(), "the stream's own cleanup ran before iterate() returned"
