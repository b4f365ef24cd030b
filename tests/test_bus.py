import asyncio
import threading

from pipeline.bus import EventBus


def test_messages_published_from_threads_reach_every_subscriber_in_order() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        bus = EventBus()
        async with bus.subscribe() as a, bus.subscribe() as b:

            def publish_all() -> None:
                for i in range(5):
                    bus.publish("transcript.appended", n=i)

            t = threading.Thread(target=publish_all)
            t.start()
            t.join()
            got_a = [(await asyncio.wait_for(a.get(), 1)).data["n"] for _ in range(5)]
            got_b = [(await asyncio.wait_for(b.get(), 1)).data["n"] for _ in range(5)]
        return got_a, got_b

    a, b = asyncio.run(scenario())
    assert a == b == [0, 1, 2, 3, 4]


def test_a_slow_subscriber_keeps_the_newest_messages() -> None:
    async def scenario() -> list[int]:
        bus = EventBus(maxsize=3)
        async with bus.subscribe() as sub:
            for i in range(10):
                bus.publish("queue.changed", n=i)
            await asyncio.sleep(0.01)
            return [(await sub.get()).data["n"] for _ in range(3)]

    assert asyncio.run(scenario()) == [7, 8, 9]
