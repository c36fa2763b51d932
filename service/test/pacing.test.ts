import t from 'tap';
import { FramePacer } from '../src/pacing.js';

t.test('the interval stretches with watchers, within bounds, and shrinks back with hysteresis', async (t) => {
  const p = new FramePacer({ budget: 40_000, minMs: 50, maxMs: 1000 });
  t.equal(p.intervalMs, 50, 'starts at the shortest interval');
  t.notOk(p.update(1000), '1,000 watchers × 20 frames/s fit the budget');
  t.equal(p.intervalMs, 50);
  t.ok(p.update(5000), '5,000 watchers need 125 ms');
  t.equal(p.intervalMs, 150, 'rounded up to the next step');
  t.ok(p.update(18_000));
  t.equal(p.intervalMs, 500, '18,000 watchers: 450 ms → 500 ms step');
  t.ok(p.update(1_000_000));
  t.equal(p.intervalMs, 1000, 'never past the longest interval');
  t.ok(p.update(17_000), 'shrinks when far enough below');
  t.equal(p.intervalMs, 500);
  t.notOk(p.update(16_500), 'a small drop (412 ms needed, > 80 % of 500) keeps it: no flapping');
  t.ok(p.update(0));
  t.equal(p.intervalMs, 50, 'back to the shortest when everyone left');
});

t.test('a budget of 0 never paces', async (t) => {
  const p = new FramePacer({ budget: 0, minMs: 20, maxMs: 1000 });
  t.notOk(p.update(1_000_000));
  t.equal(p.intervalMs, 20);
});

t.test('every frame of a stretched interval stays within budget', async (t) => {
  const budget = 30_000;
  const p = new FramePacer({ budget, minMs: 50, maxMs: 2000 });
  const over: string[] = [];
  for (let w = 0; w <= 60_000; w += 250) {
    p.update(w);
    const framesPerS = (w * 1000) / p.intervalMs;
    if (framesPerS > budget && p.intervalMs < 2000) over.push(`${w} watchers at ${p.intervalMs} ms → ${Math.round(framesPerS)} frames/s`);
  }
  t.same(over, [], 'growing from 0 to 60,000 watchers never exceeds the budget below the longest interval');
});
