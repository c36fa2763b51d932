// The time-travel benchmark (issue 18), embedded store, 1000×1000 canvas with 1,000,000 placements of history:
//   1. seek in the page: p50/p99 of cold and warm seeks in headless Chromium (target p99 ≤ 200 ms);
//   2. live PUT latency at 1,000/s, open loop, with the keyframe writer cutting a keyframe every 2,000 placements
//      (one every ~2 s: board, range and users compressed and written) against the same service with keyframes off,
//      alternated twice in this run (target: p99 within 10 %);
//   3. ops:timelapse exporting all 1,000,000 placements to a GIF (target: within 2 minutes).
//   flock /tmp/tessera-bench.lock npm run bench:timetravel [-- --placements 1000000 --rounds 2 --seconds 20]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seqAt, syntheticHistory, writeLog } from './timetravel/history-data.js';
import { runLoad, type LoadResult } from './load/http-load.js';
import { loadAverage } from './stats.js';
import { measureSeeks } from './timetravel/seek.js';
import { SECRET, startService, waitKeyframes } from './timetravel/service.js';

const { values: args } = parseArgs({
  options: { placements: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '20' }, rate: { type: 'string', default: '1000' } },
});
const N = Number(args.placements);
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate);
const W = 1000;
const H = 1000;
const EVERY = 50_000;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const log = (s: string) => console.log(`[timetravel] ${s}`);

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-tt-'));
const results: Record<string, unknown> = { placements: N, canvas: `${W}x${H}`, keyframeEvery: EVERY };
try {
  let t0 = Date.now();
  const placements = syntheticHistory(N, W, H, { stepMs: 100, users: 100_000, endsAgoMs: 3_600_000 });
  writeLog(dataDir, placements);
  log(`history: ${N.toLocaleString()} placements written to placements.log in ${Date.now() - t0} ms (${round(statSync(join(dataDir, 'placements.log')).size / 1e6)} MB)`);

  // 1. Seeks.
  t0 = Date.now();
  const svc = await startService({ DATA_DIR: dataDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), KEYFRAME_EVERY: String(EVERY), KEYFRAME_INTERVAL_MS: '0' });
  const kfs = await waitKeyframes(svc.base, Math.floor(N / EVERY) - 1);
  log(`service ready in ${svc.startMs} ms, ${kfs.length} keyframes listed after ${Date.now() - t0} ms`);
  results.startup = { readyMs: svc.startMs, keyframesMs: Date.now() - t0, keyframes: kfs.length };
  const seek = await measureSeeks(svc.base, { cold: 40, warm: 200 });
  const wrong = seek.moments.filter((m, i) => seek.seqs[i] !== seqAt(placements, m)).length;
  const fmt = (p: { p50: number; p99: number; max: number; n: number }) => `p50 ${round(p.p50)} ms, p99 ${round(p.p99)} ms, max ${round(p.max)} ms (n=${p.n})`;
  log(`seek cold: ${fmt(seek.cold)}`);
  log(`seek warm: ${fmt(seek.warm)}`);
  log(`seek all:  ${fmt(seek.all)}; ${wrong} of ${seek.moments.length} seeks showed another seq than the history says`);
  results.seek = { cold: seek.cold, warm: seek.warm, all: seek.all, wrongSeq: wrong };
  await svc.stop();

  // 2. Live placements with and without keyframes being written, alternated.
  const live: { keyframes: boolean; round: number; p50: number; p99: number; rps: number; ok: number; sent: number; statuses: Record<string, number>; keyframesWritten: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // ABBA order, so a drift in the box's load over the run does not favour one side.
    for (const keyframes of r % 2 === 0 ? [true, false] : [false, true]) {
      const s = await startService({ DATA_DIR: dataDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), KEYFRAME_EVERY: keyframes ? '2000' : '0', KEYFRAME_INTERVAL_MS: '0' });
      // The catch-up at start (the log since the last keyframe, cut every 2,000) is a one-off burst: let it finish.
      if (keyframes) await settled(s.base);
      const before = await metric(s.base, 'tessera_keyframes_written_total');
      const res: LoadResult = await runLoad({ port: s.port, connections: 32, durationMs: SECONDS * 1000, warmupMs: 2000, rate: RATE, secret: SECRET, userPrefix: `tt${r}${keyframes ? 'k' : 'n'}-` });
      const written = (await metric(s.base, 'tessera_keyframes_written_total')) - before;
      await s.stop();
      live.push({ keyframes, round: r + 1, p50: round(res.latency.p50, 2), p99: round(res.latency.p99, 2), rps: round(res.rps), ok: res.ok, sent: res.sent, statuses: res.statuses, keyframesWritten: written });
      log(`live PUT ${keyframes ? 'with keyframes   ' : 'without keyframes'} (round ${r + 1}, load ${loadAverage()}): ${round(res.rps)}/s, p50 ${round(res.latency.p50, 2)} ms, p99 ${round(res.latency.p99, 2)} ms, ${res.ok}/${Object.values(res.statuses).reduce((a, b) => a + b, 0)} answered 200 in the window, ${written} keyframes written`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const withKf = median(live.filter((l) => l.keyframes).map((l) => l.p99));
  const without = median(live.filter((l) => !l.keyframes).map((l) => l.p99));
  log(`live PUT p99, median of ${ROUNDS} runs each: ${round(withKf, 2)} ms with keyframes vs ${round(without, 2)} ms without (${round(((withKf - without) / without) * 100)} %)`);
  results.live = { runs: live, p99With: withKf, p99Without: without };

  // 3. Export all of the synthetic history (the live placements above came later) to a GIF.
  const out = join(dataDir, 'timelapse.gif');
  t0 = Date.now();
  const from = placements[0].placedAt;
  const to = placements[N - 1].placedAt + 1;
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [new URL('../../ops/timelapse.js', import.meta.url).pathname, '--from', String(from), '--to', String(to), '--fps', '30', '--seconds', '10', '--out', out], {
      env: { ...process.env, DATA_DIR: dataDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), REDIS_URL: '' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    p.on('exit', resolve);
  });
  const exportMs = Date.now() - t0;
  log(`export: ops:timelapse of ${N.toLocaleString()} placements → 300-frame ${W}×${H} GIF (${round(statSync(out).size / 1e6)} MB) in ${round(exportMs / 1000)} s, exit ${code}`);
  results.export = { ms: exportMs, frames: 300, bytes: statSync(out).size, exit: code };

  // dist/bench/node → the repository's bench/results
  const dir = new URL('../../../bench/results', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `timetravel-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  log(`results: ${file}`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

/** Until no keyframe has been written for 2 s. */
async function settled(base: string): Promise<void> {
  let last = -1;
  let since = Date.now();
  while (Date.now() - since < 2000) {
    const n = await metric(base, 'tessera_keyframes_written_total');
    if (n !== last) [last, since] = [n, Date.now()];
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
