// The projects benchmark: PUT /api/pixel at 1,000 placements/s against one Tessera container (Redis), with
// 1,000 projects tracked and with none, in the same run. The condition alternates phase by phase (a moderator
// hides every project, then shows them again: hidden ones are not tracked), so drift on a shared box falls on
// both. Prints each phase's placement latency, the p99 ratio, and the tracker's own cost per placement measured
// in process (projects/tracker-cost.ts: no network, no noise from the box). Writes bench/results/projects-*.json. Run under `flock /tmp/tessera-bench.lock npm run bench:projects`.
//   --rate 1000 --projects 1000 --size 32 --phases 6 --phase-s 12
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Tokens } from '../../service/src/auth/token.js';
import { REPO_ROOT } from '../cluster/container.js';
import { PlacementDriver } from './load/placement-driver.js';
import { CANVAS, wallNow } from './load/requests.js';
import { placeOf, randomTemplate } from './projects/templates.js';
import { trackerCost } from './projects/tracker-cost.js';
import { BENCH_SECRET, Bench } from './targets.js';

const ADMIN = 'bench-admin-token-0123456789';
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RATE = arg('rate', 1000);
const PROJECTS = arg('projects', 1000);
const SIZE = arg('size', 32);
const PHASES = arg('phases', 6);
const PHASE_MS = arg('phase-s', 12) * 1000;
/** After each switch: the hide/show calls are done and the containers' state has settled before measuring. */
const SETTLE_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

async function createAll(base: string): Promise<string[]> {
  const tokens = new Tokens([Buffer.from(BENCH_SECRET)], 3600);
  const ids: string[] = new Array(PROJECTS);
  await pool([...Array(PROJECTS).keys()], 16, async (i) => {
    const { x, y } = placeOf(i, SIZE, CANVAS);
    const r = await fetch(`${base}/api/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.mint(`creator${i}`).token}` },
      body: JSON.stringify({ name: `bench ${i}`, x, y, png: randomTemplate(SIZE, i + 1).toString('base64') }),
    });
    if (r.status !== 201) throw new Error(`creating project ${i}: ${r.status} ${await r.text()}`);
    ids[i] = ((await r.json()) as { id: string }).id;
  });
  return ids;
}

async function setHidden(base: string, ids: string[], hidden: boolean): Promise<void> {
  await pool(ids, 16, async (id) => {
    const r = await fetch(`${base}/api/admin/projects/${id}`, { method: 'POST', headers: { 'x-admin-token': ADMIN }, body: JSON.stringify({ hidden }) });
    if (r.status !== 200) throw new Error(`hiding ${id}: ${r.status}`);
    await r.arrayBuffer();
  });
}

const gauge = (metrics: string, name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const f = (v: number) => v.toFixed(2);

async function main(): Promise<void> {
  const bench = await Bench.start();
  const target = await bench.tessera({ ADMIN_TOKEN: ADMIN, RATE_LIMIT_PLACEMENTS_PER_MIN: '0' });
  const base = `http://127.0.0.1:${target.port}`;
  const phases: { tracked: number; load1: number; p50: number; p90: number; p99: number; max: number; n: number; rate: number; errors: number; refused: Record<string, number> }[] = [];
  try {
    let t0 = Date.now();
    const ids = await createAll(base);
    const createdMs = Date.now() - t0;
    console.log(`created ${PROJECTS} projects of ${SIZE}×${SIZE} (¾ opaque: ${Math.round((PROJECTS * SIZE * SIZE * 0.75) / 1000)}k pixels tracked) in ${createdMs} ms`);
    const driver = new PlacementDriver({ port: target.port, rate: RATE, connections: 32, secret: BENCH_SECRET, userPrefix: 'p' });
    await driver.start();
    await sleep(3000); // warm-up
    for (let i = 0; i < PHASES; i++) {
      const on = i % 2 === 1;
      t0 = Date.now();
      await setHidden(base, ids, !on);
      await sleep(SETTLE_MS);
      const tracked = gauge(await target.metrics!(), 'tessera_projects');
      const from = wallNow();
      await sleep(PHASE_MS);
      const w = driver.window(from, wallNow());
      const load1 = loadavg()[0];
      phases.push({ tracked, load1, ...w.put, rate: w.rate, errors: w.errors, refused: w.refused });
      console.log(`phase ${i + 1}/${PHASES}: ${String(tracked).padStart(4)} projects tracked (switch ${Date.now() - t0 - PHASE_MS - SETTLE_MS} ms) · ${w.rate.toFixed(0)}/s · PUT p50 ${f(w.put.p50)} p90 ${f(w.put.p90)} p99 ${f(w.put.p99)} max ${f(w.put.max)} ms · refused ${JSON.stringify(w.refused)} · box load ${load1.toFixed(2)}`);
    }
    await driver.stop();
  } finally {
    await target.stop();
    await bench.stop();
  }
  const off = phases.filter((p) => p.tracked === 0);
  const on = phases.filter((p) => p.tracked === PROJECTS);
  if (off.length + on.length !== phases.length) throw new Error(`a phase tracked neither 0 nor ${PROJECTS} projects: ${phases.map((p) => p.tracked)}`);
  const p99Off = median(off.map((p) => p.p99));
  const p99On = median(on.map((p) => p.p99));
  const ratio = p99On / p99Off;
  // Each "on" phase against the "off" phase just before it: a burst from elsewhere on the box hits one pair, not all.
  const pairs = on.map((p) => p.p99 / phases[phases.indexOf(p) - 1].p99);
  const pairRatio = median(pairs);
  const costs = [await trackerCost(0, SIZE, CANVAS, RATE), await trackerCost(PROJECTS, SIZE, CANVAS, RATE)];
  for (const c of costs) {
    console.log(`tracker in process, ${c.projects} projects: ${c.nsPerPlacement.toFixed(0)} ns per placement in the fan-out hook (${(100 * c.coreShareAtRate).toFixed(3)} % of a core at ${RATE}/s); seeding took ${c.seedMs.toFixed(0)} ms`);
  }
  console.log(`\nplacement p99, median of ${on.length} phases each: ${f(p99On)} ms with ${PROJECTS} projects, ${f(p99Off)} ms with none → ${ratio.toFixed(3)}× (target ≤ 1.1×: ${ratio <= 1.1 ? 'met' : 'NOT met'})`);
  console.log(`pairwise (each on-phase ÷ the off-phase before it): ${pairs.map((r) => r.toFixed(2)).join(', ')} → median ${pairRatio.toFixed(3)}×`);
  const dir = join(REPO_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `projects-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, JSON.stringify({ rate: RATE, projects: PROJECTS, size: SIZE, phaseMs: PHASE_MS, phases, p99On, p99Off, ratio, pairs, pairRatio, trackerCost: costs }, null, 2));
  console.log(`raw: ${file}`);
}

await main();
