import { forEachBounded } from './bounded.js';

test('never more than the limit in flight, every item once', async () => {
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  await forEachBounded([...Array(20).keys()], 4, async (i) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    seen.push(i);
    inFlight -= 1;
  });
  expect(peak).toBe(4);
  expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
});

test('a failure does not stop the other calls; the first failure is thrown after all ran', async () => {
  const ran: number[] = [];
  await expect(
    forEachBounded([1, 2, 3, 4, 5], 2, async (i) => {
      await Promise.resolve();
      ran.push(i);
      if (i === 2) throw new Error('conflict on 2');
      if (i === 4) throw new Error('conflict on 4');
    }),
  ).rejects.toThrow('conflict on 2');
  expect(ran.sort()).toEqual([1, 2, 3, 4, 5]);
});

test('nothing to do resolves at once', async () => {
  await expect(
    forEachBounded([], 8, () => Promise.reject(new Error('no'))),
  ).resolves.toBeUndefined();
});
