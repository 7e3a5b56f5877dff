"""Admission: bounded model parallelism, a bounded queue, refusal at once beyond it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from accelctl.serve.admission import Admission, Full


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


async def until(predicate):
    while not predicate():
        await asyncio.sleep(0.005)


def blocking(gate: threading.Event, value=None):
    def fn():
        assert gate.wait(timeout=10)
        return value

    return fn


def test_runs_at_most_concurrency_and_refuses_beyond_the_queue():
    async def main():
        adm = Admission(concurrency=2, queue=1)
        gate = threading.Event()
        tasks = [asyncio.create_task(adm.run(blocking(gate, i))) for i in range(3)]
        await until(lambda: adm.running == 2 and adm.waiting == 1)
        assert adm.busy == adm.capacity == 3
        with pytest.raises(Full):
            await adm.run(lambda: "never")
        gate.set()
        assert await asyncio.gather(*tasks) == [0, 1, 2]
        assert (adm.running, adm.waiting) == (0, 0)
        assert await adm.run(lambda: "again") == "again"  # every slot came back
        adm.close()

    run(main())


def test_queue_zero_means_only_the_running_slots():
    async def main():
        adm = Admission(concurrency=1, queue=0)
        gate = threading.Event()
        first = asyncio.create_task(adm.run(blocking(gate)))
        await until(lambda: adm.running == 1)
        with pytest.raises(Full):
            await adm.run(lambda: None)
        gate.set()
        await first
        adm.close()

    run(main())


def test_a_caller_giving_up_while_queued_frees_its_place():
    async def main():
        adm = Admission(concurrency=1, queue=1)
        gate = threading.Event()
        first = asyncio.create_task(adm.run(blocking(gate, "first")))
        await until(lambda: adm.running == 1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(adm.run(lambda: "queued"), 0.05)
        assert adm.waiting == 0
        gate.set()
        assert await first == "first"
        assert await adm.run(lambda: "next") == "next"
        adm.close()

    run(main())


def test_a_caller_giving_up_while_running_leaves_the_slot_taken_until_the_call_ends():
    async def main():
        adm = Admission(concurrency=1, queue=0)
        gate = threading.Event()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(adm.run(blocking(gate)), 0.05)
        assert adm.running == 1  # the thread is still in the model
        with pytest.raises(Full):
            await adm.run(lambda: None)
        gate.set()
        await until(lambda: adm.running == 0)
        assert await adm.run(lambda: "free") == "free"
        adm.close()

    run(main())


def test_errors_reach_the_caller_and_release_the_slot():
    def boom():
        raise RuntimeError("model failed")

    async def main():
        adm = Admission(concurrency=1, queue=0)
        with pytest.raises(RuntimeError, match="model failed"):
            await adm.run(boom)
        assert adm.busy == 0
        adm.close()

    run(main())


@pytest.mark.parametrize("concurrency,queue", [(0, 1), (1, -1)])
def test_bad_sizes(concurrency, queue):
    with pytest.raises(ValueError):
        Admission(concurrency, queue)
