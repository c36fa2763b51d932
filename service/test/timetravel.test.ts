// Time travel, embedded mode: keyframes cut from placements.log at start and from live placements, the blobs and
// the tail byte for byte against the placements, immutable cache headers, bad input, ops:keyframes rebuilding the
// same keyframes, and ops:timelapse frames equal to the boards at their moments.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { PNG } from 'pngjs';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { decodeRange, decodeUsers, encodeRange, encodeUsers, type KeyframeEntry } from '../src/timetravel/codec.js';
import { effectiveInterval } from '../src/timetravel/service.js';
import { PALETTE } from '../src/wire/palette.js';
import { boardAt, seqAt, syntheticHistory, writeLog } from '../../bench/node/timetravel/history-data.js';
import { metric } from './support/dynamo.js';
import { runOps, summaryOf } from './support/ops.js';
import { put, session, startInProcess } from './support/service.js';

const W = 100;
const H = 80;
const EVERY = 5000;
const placements = syntheticHistory(20_000, W, H, { stepMs: 1000 });
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-tt-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
writeLog(dataDir, placements);
const env = { DATA_DIR: dataDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), KEYFRAME_EVERY: String(EVERY), KEYFRAME_INTERVAL_MS: '0', COOLDOWN_MS: '0', RATE_LIMIT_REQUESTS_PER_MIN: '0' };

type List = { width: number; height: number; head: number; keyframes: KeyframeEntry[] };
const get = (base: string, path: string) => fetch(base + path);
const blob = async (base: string, path: string) => {
  const r = await get(base, path);
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return { bytes: inflateRawSync(Buffer.from(await r.arrayBuffer())), headers: r.headers };
};
async function listed(base: string, n: number): Promise<List> {
  for (let i = 0; i < 200; i++) {
    const l = (await (await get(base, '/api/history')).json()) as List;
    if (l.keyframes.length >= n) return l;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${n} keyframes listed`);
}

const server = await startInProcess(env);
let stopped = false;
t.teardown(() => (stopped ? undefined : server.stop()));
const base = server.base;

t.test('keyframes are cut from the log at start: list, boards, ranges, users, tail', async (t) => {
  const list = await listed(base, 3);
  t.equal(list.head, 20_000);
  t.same(list.keyframes.map((k) => [k.from, k.seq, k.count]), [[0, 5000, 5000], [5000, 10_000, 5000], [10_000, 15_000, 5000]], 'a chain of whole segments');
  for (const k of list.keyframes) {
    const board = await blob(base, `/api/history/keyframe/${k.seq}`);
    t.ok(board.bytes.equals(boardAt(placements, k.seq, W, H)), `keyframe ${k.seq} is the board at its seq`);
    t.equal(board.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const range = decodeRange((await blob(base, `/api/history/range/${k.from}/${k.seq}`)).bytes);
    const expect = placements.slice(k.from, k.seq);
    t.equal(range.from, k.from);
    t.same([...range.seqs], expect.map((p) => p.seq));
    t.same([...range.entries], expect.map((p) => (p.y * W + p.x) * 16 + p.color));
    t.same([...range.times], expect.map((p) => p.placedAt));
    t.equal(k.at, expect[expect.length - 1].placedAt);
    t.equal(k.firstAt, expect[0].placedAt);
    const users = decodeUsers((await blob(base, `/api/history/users/${k.from}/${k.seq}`)).bytes);
    t.same(users, expect.map((p) => p.userId), `users of ${k.seq}`);
  }
  const tail = await get(base, '/api/history/tail?after=15000');
  t.match(tail.headers.get('cache-control'), /max-age=1$/);
  const tr = decodeRange(inflateRawSync(Buffer.from(await tail.arrayBuffer())));
  t.equal(tr.seqs.length, 5000);
  t.equal(tr.seqs[0], 15_001);
  const stale = await get(base, '/api/history/tail?after=100');
  t.equal(stale.headers.get('x-tail-from'), '15000', 'an after older than the newest keyframe gets the tail from the keyframe');
  t.equal(decodeRange(inflateRawSync(Buffer.from(await stale.arrayBuffer()))).from, 15_000);
  const tu = decodeUsers((await blob(base, '/api/history/tail?after=19990&part=users')).bytes);
  t.same(tu, placements.slice(19_990).map((p) => p.userId));
  t.match((await get(base, '/api/history')).headers.get('cache-control'), /max-age=1$/);
});

t.test('bad input gets a JSON error', async (t) => {
  const cases: [string, number, string][] = [
    ['/api/history/keyframe/abc', 400, 'invalid_request'],
    ['/api/history/range/0/-1', 400, 'invalid_request'],
    ['/api/history/range/x/5000', 400, 'invalid_request'],
    ['/api/history/keyframe/99999999999', 400, 'invalid_request'],
    ['/api/history/users/0/1.5', 400, 'invalid_request'],
    ['/api/history/keyframe/7', 404, 'not_found'],
    ['/api/history/range/0/4999', 404, 'not_found'],
    ['/api/history/range/1/5000', 404, 'not_found'],
    ['/api/history/tail', 400, 'invalid_request'],
    ['/api/history/tail?after=x', 400, 'invalid_request'],
    ['/api/history/tail?after=15000&part=bogus', 400, 'invalid_request'],
  ];
  for (const [path, status, error] of cases) {
    const r = await get(base, path);
    t.equal(r.status, status, path);
    const body = (await r.json()) as { error: string; message: string };
    t.equal(body.error, error, path);
    t.type(body.message, 'string');
  }
});

t.test('ops:keyframes rebuilds the same keyframes from the log; ops:timelapse frames are the boards at their moments', async (t) => {
  const before = await listed(base, 3);
  const blobs = before.keyframes.map((k) => readFileSync(join(dataDir, 'keyframes', `${String(k.seq).padStart(12, '0')}.k`)));
  await server.stop();
  stopped = true;
  const opsEnv = { ...env, SESSION_SECRET: undefined, REDIS_URL: '' };
  const r = await runOps('keyframes', [], opsEnv);
  t.equal(r.code, 0, r.code === 0 ? 'ops:keyframes exits 0' : r.stderr);
  t.match(r.stderr, /keyframes 100%/, 'a progress bar on stderr');
  t.match(summaryOf(r), { mode: 'embedded', placements: 20_000, keyframes: 4, lastSeq: 20_000 });
  const manifest = readFileSync(join(dataDir, 'keyframes', 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as KeyframeEntry);
  t.same(manifest.slice(0, 3), before.keyframes, 'the same entries');
  before.keyframes.forEach((k, i) => t.ok(readFileSync(join(dataDir, 'keyframes', `${String(k.seq).padStart(12, '0')}.k`)).equals(blobs[i]), `keyframe ${k.seq}: the same bytes`));
  t.equal(manifest[3].seq, 20_000, 'and one more at the end of the history');

  const from = placements[3000].placedAt + 1;
  const to = placements[18_000].placedAt + 1;
  const out = join(dataDir, 'frames');
  const tl = await runOps('timelapse', ['--from', String(from), '--to', new Date(to).toISOString(), '--frames', '6', '--scale', '2', '--out', out, '--format', 'png'], opsEnv);
  t.equal(tl.code, 0, tl.code === 0 ? 'ops:timelapse exits 0' : tl.stderr);
  t.match(tl.stderr, /timelapse 100%/);
  t.match(summaryOf(tl), { format: 'png', frames: 6, files: 6, width: W * 2, height: H * 2 });
  const files = readdirSync(out).sort();
  t.equal(files.length, 6);
  const rgb = PALETTE.map((hex) => parseInt(hex.slice(1), 16));
  const decode = (file: string) => {
    const png = PNG.sync.read(readFileSync(join(out, file)));
    const b = Buffer.alloc(Math.ceil((W * H) / 2));
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const o = (y * 2 * png.width + x * 2) * 4;
        const c = rgb.indexOf((png.data[o] << 16) | (png.data[o + 1] << 8) | png.data[o + 2]);
        const i = y * W + x;
        b[i >> 1] |= i % 2 === 0 ? c << 4 : c;
      }
    return b;
  };
  t.ok(decode(files[0]).equals(boardAt(placements, seqAt(placements, from), W, H)), 'the first frame is the board at --from');
  t.ok(decode(files[5]).equals(boardAt(placements, seqAt(placements, to), W, H)), 'the last frame is the board at --to');
  const gif = join(dataDir, 'out.gif');
  const g = await runOps('timelapse', ['--from', String(from), '--to', String(to), '--fps', '10', '--seconds', '1', '--out', gif], opsEnv);
  t.equal(g.code, 0, g.code === 0 ? 'the GIF is written' : g.stderr);
  t.match(summaryOf(g), { format: 'gif', frames: 10 });
  t.equal(readFileSync(gif).subarray(0, 6).toString(), 'GIF89a');
  const bad = await runOps('timelapse', ['--from', String(to), '--to', String(from)], opsEnv);
  t.equal(bad.code, 2, 'usage error: --to before --from');
});

t.test('live placements are cut into keyframes after the restart, and the tail follows', async (t) => {
  const s = await startInProcess({ ...env, KEYFRAME_EVERY: '10' });
  t.teardown(() => s.stop());
  const list = await listed(s.base, 4);
  t.equal(list.keyframes[3].seq, 20_000, 'the rebuilt keyframes are read at start');
  const me = await session(s.base);
  const all = [...placements];
  for (let i = 0; i < 12; i++) {
    const r = await put(s.base, me.token, { x: i, y: 1, color: 5 });
    t.equal(r.status, 200);
    all.push({ seq: r.body.seq, x: i, y: 1, color: 5, userId: me.userId, placedAt: 0 });
  }
  const after = await listed(s.base, 5);
  const k = after.keyframes[4];
  t.equal(k.from, 20_000);
  t.ok(k.seq >= 20_010 && k.seq <= 20_012, `cut after 10 or more placements (${k.seq})`);
  const board = await blob(s.base, `/api/history/keyframe/${k.seq}`);
  t.ok(board.bytes.equals(boardAt(all, k.seq, W, H)), 'the live keyframe is the board at its seq');
  const tail = decodeRange((await blob(s.base, `/api/history/tail?after=${k.seq}`)).bytes);
  t.same([...tail.seqs], all.filter((p) => p.seq > k.seq).map((p) => p.seq), 'the tail holds the placements after it');
  t.ok((await metric(s.base, 'tessera_keyframes_written_total'))! >= 1, 'counted');
});

t.test('the formats refuse what they did not write; the settings are checked once', async (t) => {
  const range = encodeRange(10, [{ seq: 11, entry: 5 * 16 + 3, placedAt: 1000 }, { seq: 13, entry: 7, placedAt: 990 }]);
  t.same(decodeRange(range), { from: 10, seqs: Uint32Array.from([11, 13]), entries: Uint32Array.from([83, 7]), times: Float64Array.from([1000, 990]) }, 'round trip, times before the first one too');
  t.throws(() => decodeRange(range.subarray(0, range.length - 1)), { name: 'RangeFormatError', message: /range of 2 records is 39 bytes/ }, 'a short range');
  const bad = Uint8Array.from(range);
  new DataView(bad.buffer).setUint32(28, 10, true); // the second seq no higher than the first
  t.throws(() => decodeRange(bad), /must rise/);
  t.same(decodeUsers(encodeUsers(['a', 'bb', 'a'])), ['a', 'bb', 'a']);
  t.throws(() => decodeUsers(encodeUsers(['a']).subarray(0, 9)), { name: 'RangeFormatError', message: /truncated/ });

  t.throws(() => loadConfig({ KEYFRAME_EVERY: '-1' }), /KEYFRAME_EVERY must be between 0 and/);
  t.throws(() => loadConfig({ KEYFRAME_INTERVAL_MS: 'soon' }), /KEYFRAME_INTERVAL_MS must be an integer/);
  const redisConfig = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1', SESSION_SECRET: 'x'.repeat(32), DYNAMODB_TABLE: 'hist', STREAM_RETENTION_MS: '60000' });
  t.equal(redisConfig.keyframeTable, 'hist-keyframes', 'the keyframe table is named after the history table');
  t.equal(effectiveInterval(redisConfig), 30_000, 'the interval stays within half the stream retention');
  t.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:1', SESSION_SECRET: 'x'.repeat(32) }).keyframeTable, undefined, 'no history table, no keyframe table');
});
