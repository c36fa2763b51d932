// The tracker's own cost, in process and free of the noise of a shared box: how long the fan-out hook takes per
// placement with N projects tracked (spatial-index lookup, pixel state, counts), and what seeding them cost.
import { decodeTemplate } from '../../../service/src/projects/png.js';
import { CompletionTracker } from '../../../service/src/projects/tracker.js';
import { createLogger } from '../../../service/src/log.js';
import { placeOf, randomTemplate } from './templates.js';

export interface TrackerCost {
  projects: number;
  seedMs: number;
  /** ns per placement in the fan-out hook. */
  nsPerPlacement: number;
  /** Share of one core at `rate` placements/s. */
  coreShareAtRate: number;
}

export async function trackerCost(projects: number, size: number, canvas: number, rate: number): Promise<TrackerCost> {
  const tracker = new CompletionTracker({
    width: canvas,
    height: canvas,
    loadBoard: async () => ({ bytes: Buffer.alloc(Math.ceil((canvas * canvas) / 2)), seq: 0 }),
    log: createLogger('silent'),
  });
  await tracker.load();
  const templates = Array.from({ length: projects }, (_, i) => decodeTemplate(randomTemplate(size, i + 1), size * size));
  const t0 = performance.now();
  templates.forEach((tpl, i) => tracker.add({ id: `p${i}`, name: `p${i}`, ...placeOf(i, size, canvas), ...tpl, createdBy: 'bench', createdAt: 0, hidden: false }));
  const seedMs = performance.now() - t0;
  // 50 placements a batch, as a 50 ms frame at 1,000/s carries; random pixels and colours.
  const BATCHES = 20_000;
  const batches = Array.from({ length: BATCHES }, (_, b) => Array.from({ length: 50 }, (_, k) => {
    const r = Math.imul(b * 50 + k + 1, 2654435761) >>> 0;
    return (r % (canvas * canvas)) * 16 + ((r >>> 24) & 15);
  }));
  let seq = 0;
  const t1 = process.hrtime.bigint();
  for (const e of batches) {
    tracker.onPublished(seq + 1, e);
    seq += e.length;
    if ((seq & 0x3fff) === 0) for (const t of tracker.dirty) t.changed = [];
  }
  const ns = Number(process.hrtime.bigint() - t1) / seq;
  return { projects, seedMs, nsPerPlacement: ns, coreShareAtRate: (ns * rate) / 1e9 };
}
