"""The asyncio flavour against a real broker, on ipc:// and tcp://."""

import asyncio
import unittest

import ipcq
import ipcq.aio
from ipcq import errors

from ipcq_testlib import BrokerTestCase


class Aio(BrokerTestCase):
    tcp = True

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 60))

    def test_consumers_gather(self):
        async def consumer(c, results):
            q = await c.queue("squares", role="consumer")
            async for m in q:
                n = int(m.text)
                results.append(n * n)

        async def main(url):
            async with await ipcq.aio.Client.connect(url) as c:
                results = []
                tasks = [asyncio.create_task(consumer(c, results))
                         for _ in range(4)]
                p = await c.queue("squares", role="producer")
                self.assertEqual(
                    await p.send_many(str(i) for i in range(1, 101)), 100)
                self.assertTrue(await p.end())
                await asyncio.gather(*tasks)
                return sorted(results)

        want = sorted(i * i for i in range(1, 101))
        self.assertEqual(self.run_async(main(self.url)), want)
        with ipcq.Client(self.url) as c:
            c.delete("squares")
        self.assertEqual(self.run_async(main(self.broker.tcp_url)), want)

    def test_parked_recv_and_errors(self):
        async def main():
            c = await ipcq.aio.Client.connect(self.url)
            q = await c.queue("aq", ack="explicit")
            parked = asyncio.create_task(q.recv(timeout=10))
            await asyncio.sleep(0)   # usually parks first; right either way
            self.assertEqual(await c.list(), ["aq"])   # not held up
            await q.send(b"x")
            m = await parked
            self.assertEqual((m.data, m.delivery_count), (b"x", 1))
            await q.nack(m)
            m = await q.recv(timeout=5)
            self.assertTrue(m.redelivered)
            self.assertEqual(await q.ack_many([m]), 1)
            with self.assertRaises(errors.ETIMEDOUT):
                await q.recv(timeout=0.05)
            with self.assertRaises(errors.EBADNAME):
                await c.queue("no good")
            await q.shutdown()
            with self.assertRaises(errors.ECLOSED):
                await q.send("late")
            with self.assertRaises(errors.EOF):
                await q.recv()
            self.assertTrue((await q.stats())["ended"])
            await q.close()
            await c.close()
            with self.assertRaises(errors.ECONNLOST):
                await c.list()

        self.run_async(main())

    def test_reconnect(self):
        async def main():
            c = await ipcq.aio.Client.connect(self.url)
            q = await c.queue("ar", max_messages=5)
            parked = asyncio.create_task((await c.queue("o")).recv())
            await q.send("x")
            self.assertEqual(self.broker.restart(), 0)
            with self.assertRaises(errors.ECONNLOST):
                await parked    # the client saw the drop
            await q.send("y")   # reconnects, re-opens "ar"
            self.assertEqual((await q.stats())["max_messages"], 5)
            # The clean stop kept "ar" with "x" for the new broker.
            self.assertEqual((await q.recv(timeout=5)).text, "x")
            self.assertEqual((await q.recv(timeout=5)).text, "y")
            await c.close()

        self.run_async(main())

    def test_no_broker(self):
        async def main():
            await ipcq.aio.Client.connect(
                "ipc://%s/none.sock" % self.broker.dir, connect_timeout=0.1)
        self.assertRaises(errors.ENOBROKER, self.run_async, main())


if __name__ == "__main__":
    unittest.main()
