// placements.log after a crash: a torn or damaged last record is trimmed before anything is written after it,
// damage in the middle stops the service with an error naming the file and offset, and old NDJSON logs convert.
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { mintUsers } from './support/dynamo.js';
import { board, colourAt, handPlacement, logged, logPath, pixelHistory, record } from './support/embedded-log.js';
import { put, startChild, testEnv, TEST_SECRET } from './support/service.js';

const [alice, bob] = mintUsers(TEST_SECRET, 2, 'log-');

/** A fresh DATA_DIR holding `log` as placements.log (and no snapshot, as after a crash before the first one). */
function dataDirWith(log: Buffer): string {
  const dir = testEnv().DATA_DIR!;
  writeFileSync(logPath(dir), log);
  return dir;
}

/** Starts on dir, places one pixel, SIGKILLs (no clean snapshot), starts again; returns the second run. */
async function placeAcrossCrash(t: Test, dir: string, expectHead: number) {
  const first = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '0' });
  t.equal((await board(first.base)).seq, expectHead, `head seq ${expectHead} after loading`);
  const placed = await put(first.base, alice.token, { x: 42, y: 9, color: 5 });
  t.equal(placed.status, 200);
  t.equal(placed.body.seq, expectHead + 1, 'the next placement gets the next seq');
  await first.stop('SIGKILL');
  const second = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '0' });
  t.teardown(() => second.stop());
  const after = await board(second.base);
  t.equal(after.seq, expectHead + 1, 'the acknowledged placement survives the restart');
  t.equal(colourAt(after.bytes, 42, 9), 5, 'and is on the board');
  const history = await pixelHistory(second.base, 42, 9);
  t.match(history, { seq: expectHead + 1, color: 5, userId: alice.userId }, 'and in the pixel history');
  return second;
}

t.test('a torn last record is trimmed before the next write (issue 16)', async (t) => {
  const good = record(handPlacement(1));
  const torn = record(handPlacement(2));
  const dir = dataDirWith(Buffer.concat([good, torn.subarray(0, torn.length - 9)]));
  const second = await placeAcrossCrash(t, dir, 1);
  const seqs = logged(dir).map((p) => p.seq);
  t.same(seqs, [1, 2], 'the log holds seq 1 and the new seq 2, nothing of the torn record');
  const file = readFileSync(logPath(dir));
  t.equal(file.subarray(0, good.length).compare(good), 0, 'the good record is untouched');
  t.equal(file.length, good.length + record(logged(dir)[1]).length, 'the torn bytes are gone');
  t.equal((await put(second.base, bob.token, { x: 1, y: 1, color: 2 })).body.seq, 3, 'seqs go on');
});

t.test('a torn record cut inside its header is trimmed too', async (t) => {
  const good = Buffer.concat([record(handPlacement(1)), record(handPlacement(2))]);
  const dir = dataDirWith(Buffer.concat([good, Buffer.from('P 000')]));
  await placeAcrossCrash(t, dir, 2);
  t.same(logged(dir).map((p) => p.seq), [1, 2, 3]);
});

t.test('a last record with a bad checksum is trimmed, not parsed', async (t) => {
  const good = Buffer.concat([record(handPlacement(1)), record(handPlacement(2))]);
  const last = record(handPlacement(3));
  last[last.length - 3] ^= 0x01; // one bit inside the JSON: still whole, no longer the bytes the checksum covers
  const dir = dataDirWith(Buffer.concat([good, last]));
  await placeAcrossCrash(t, dir, 2);
  const seqs = logged(dir);
  t.same(seqs.map((p) => p.seq), [1, 2, 3]);
  t.equal(seqs[2].userId, alice.userId, 'seq 3 is the new placement, not the damaged one');
});

t.test('damage in the middle of the log refuses to start, naming the file and offset', async (t) => {
  const first = record(handPlacement(1));
  const middle = record(handPlacement(2));
  middle[25] ^= 0x01;
  const dir = dataDirWith(Buffer.concat([first, middle, record(handPlacement(3))]));
  const before = readFileSync(logPath(dir));
  const err = await startChild({ DATA_DIR: dir }).then(
    (svc) => (svc.stop(), undefined),
    (e: Error) => e,
  );
  t.ok(err, 'the service does not start');
  t.match(err?.message, new RegExp(`${logPath(dir)} is damaged at byte ${first.length} \\(checksum mismatch\\), and readable records follow at byte ${first.length + middle.length}`));
  t.match(err?.message, /LogCorruptError/, 'a typed error');
  t.match(err?.message, new RegExp(`truncate -s ${first.length} `), 'and says how to drop the damage if that is the choice');
  t.same(readFileSync(logPath(dir)), before, 'the log is left as it was');
});

t.test('an old NDJSON log converts, recovering the placement the old bug glued onto a torn line', async (t) => {
  const line = (seq: number) => JSON.stringify({ ...handPlacement(seq), userId: `old-${seq}` });
  // What the old store left: seq 1, a torn seq 2, and the next placement (acknowledged as seq 2) written onto it.
  const dir = dataDirWith(Buffer.from(`${line(1)}\n${line(2).slice(0, 30)}${line(2)}\n${line(3)}\n${line(4).slice(0, 20)}`));
  const second = await placeAcrossCrash(t, dir, 3);
  t.same(logged(dir).map((p) => [p.seq, p.userId]), [[1, 'old-1'], [2, 'old-2'], [3, 'old-3'], [4, alice.userId]]);
  t.equal(readFileSync(logPath(dir), 'latin1').slice(0, 2), 'P ', 'the file is in the checksummed format');
  t.equal(colourAt((await board(second.base)).bytes, 2, 7), handPlacement(2).color, 'the recovered placement is on the board');
});

t.test('after a clean stop (snapshot at the end of the log), a torn tail past the snapshot point is trimmed too', async (t) => {
  const dir = testEnv().DATA_DIR!;
  const a = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '0' });
  for (let i = 0; i < 5; i++) t.equal((await put(a.base, alice.token, { x: i, y: 3, color: i + 1 })).body.seq, i + 1);
  await a.stop();
  const size = statSync(logPath(dir)).size;
  appendFileSync(logPath(dir), record(handPlacement(6)).subarray(0, 12));
  const b = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '0' });
  t.teardown(() => b.stop());
  t.equal(statSync(logPath(dir)).size, size, 'the torn tail after the snapshot point is trimmed');
  const after = await board(b.base);
  t.equal(after.seq, 5);
  t.same([0, 1, 2, 3, 4].map((x) => colourAt(after.bytes, x, 3)), [1, 2, 3, 4, 5]);
  t.equal((await put(b.base, bob.token, { x: 9, y: 9, color: 9 })).body.seq, 6);
});

t.test('cooldowns survive a crash: the log tells who placed recently', async (t) => {
  const dir = testEnv().DATA_DIR!;
  const a = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '60000' });
  t.equal((await put(a.base, alice.token, { x: 1, y: 2, color: 3 })).status, 200);
  await a.stop('SIGKILL');
  const b = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '60000' });
  t.teardown(() => b.stop());
  const again = await put(b.base, alice.token, { x: 1, y: 2, color: 4 });
  t.equal(again.status, 429, 'the user who just placed still waits after the restart');
  t.ok(again.body.retryAfterMs > 50_000 && again.body.retryAfterMs <= 60_000, `for the rest of the cooldown (${again.body.retryAfterMs} ms)`);
  t.equal((await put(b.base, bob.token, { x: 1, y: 2, color: 4 })).status, 200, 'others place as before');
});
