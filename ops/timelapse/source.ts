// Where a timelapse's placements come from: the newest keyframe at or before --from (so a late start does not
// replay the whole canvas), then the history after it in seq order — placements.log embedded, DynamoDB in Redis
// mode (the byTime index from the keyframe's time, or a full Scan when there is no keyframe to start from).
import { join } from 'node:path';
import type { Config } from '../../service/src/config.js';
import { placementsInRange } from '../../service/src/history/time-range.js';
import { readPlacements } from '../../service/src/store/placement-log.js';
import { boardBytes, type Placement } from '../../service/src/store/store.js';
import type { KeyframeStore } from '../../service/src/timetravel/blob-store.js';
import type { KeyframeEntry } from '../../service/src/timetravel/codec.js';
import { DynamoKeyframeStore } from '../../service/src/timetravel/dynamo-store.js';
import { FileKeyframeStore } from '../../service/src/timetravel/file-store.js';
import { inflateBlob } from '../../service/src/timetravel/segment.js';
import { opsDynamo } from '../common.js';
import { scanAll } from '../keyframes.js';

const SKEW_MS = 60_000;

export interface Source {
  /** The board to start from, and its seq. */
  board: Buffer;
  seq: number;
  /** Placements after seq with placedAt < to (in seq order), in batches; `total` when known up front. */
  placements: AsyncIterable<Placement[]>;
  total: number | undefined;
  close(): void;
}

async function startFrom(store: KeyframeStore, from: number, width: number, height: number): Promise<{ board: Buffer; kf: KeyframeEntry | undefined }> {
  const list = await store.list();
  // A keyframe's `at` is its last placement's time: everything in it happened at or before `at`.
  let kf: KeyframeEntry | undefined;
  for (const e of list) if (e.at <= from) kf = e;
  const blob = kf && (await store.blob(kf.seq, 'k'));
  return { board: blob ? await inflateBlob(blob) : Buffer.alloc(boardBytes(width, height)), kf: blob ? kf : undefined };
}

export async function openSource(config: Config, from: number, to: number): Promise<Source> {
  const { width, height } = config;
  if (!config.redisUrl) {
    const { board, kf } = await startFrom(new FileKeyframeStore(config.dataDir), from, width, height);
    const after = kf?.seq ?? 0;
    const all: Placement[] = [];
    readPlacements(join(config.dataDir, 'placements.log'), (p) => {
      if (p.seq > after && p.placedAt < to) all.push(p);
    });
    return { board, seq: after, placements: (async function* () { yield all; })(), total: all.length, close: () => undefined };
  }
  if (!config.dynamoTable || !config.keyframeTable) throw new Error('Redis mode needs DYNAMODB_TABLE (the history)');
  const dynamo = opsDynamo(config);
  const { board, kf } = await startFrom(new DynamoKeyframeStore(dynamo, config.keyframeTable), from, width, height).catch(() => ({
    board: Buffer.alloc(boardBytes(width, height)),
    kf: undefined,
  }));
  const after = kf?.seq ?? 0;
  if (!kf) {
    const all = (await scanAll(dynamo, config.dynamoTable, 8)).filter((p) => p.placedAt < to);
    return { board, seq: 0, placements: (async function* () { yield all; })(), total: all.length, close: () => dynamo.destroy() };
  }
  const table = config.dynamoTable;
  const placements = (async function* () {
    for await (const batch of placementsInRange(dynamo, table, Math.max(0, kf.at - SKEW_MS), to)) yield batch.filter((p) => p.seq > after);
  })();
  return { board, seq: after, placements, total: undefined, close: () => dynamo.destroy() };
}
