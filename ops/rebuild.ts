// ops:rebuild — rebuilds the Redis board and seq from the DynamoDB history, for the day Redis loses its data.
//   npm run ops:rebuild -- [--force] [--segments 8] [--skip N]
// Reads REDIS_URL, CANVAS_ID, CANVAS_WIDTH, CANVAS_HEIGHT, DYNAMODB_TABLE (DYNAMODB_ENDPOINT locally) and
// HISTORY_BACKLOG_MAX like the service. Every pixel takes the colour of its highest-seq placement, from the history
// and from the stream entries the history has not written yet. The seq moves past every seq that may have been
// acknowledged — the history's highest, the containers' high-water marks (the seq fence's hash), the stream's
// last — by --skip, by default HISTORY_BACKLOG_MAX + 1000: no more placements than that can have been
// acknowledged without reaching the history. Then a new epoch: the containers, stopped by the seq fence (raised
// here first, so the service keeps running), adopt it, resume by themselves and tell their listeners to reset.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { ConfigError } from '../service/src/config.js';
import { HISTORY_GROUP } from '../service/src/history/consumers.js';
import { oldestUnwritten, readStreamState, type StreamState } from '../service/src/history/stream-state.js';
import { provableSkip } from '../service/src/history/tail-restore.js';
import { newEpoch } from '../service/src/store/fence.js';
import { recoverCanvas, releaseLock } from '../service/src/store/recover.js';
import { canvasKeys, parseEntry } from '../service/src/store/redis.js';
import { boardBytes, type Placement } from '../service/src/store/store.js';
import { opsConfig, opsDynamo, runIfMain } from './common.js';

export interface RebuiltBoard {
  /** Exactly the string BITFIELD would have grown: up to the byte of the highest pixel ever placed. */
  bytes: Buffer;
  /** the highest seq in the history (the stream entries folded in do not count) */
  seq: number;
  items: number;
  pixels: number;
  /** stream entries folded in on top of the history */
  streamEntries: number;
}

/**
 * A parallel Scan of the table (only x, y, colour and seq): the latest placement of every pixel wins. `more`
 * adds placements the history may not have yet (the stream's unwritten entries), page by page.
 */
export async function boardFromHistory(
  client: DynamoDBClient,
  table: string,
  width: number,
  height: number,
  segments = 8,
  more?: AsyncIterable<Placement[]>,
): Promise<RebuiltBoard> {
  const bestSeq = new Float64Array(width * height);
  const colors = new Uint8Array(width * height);
  let items = 0;
  let seq = 0;
  let streamEntries = 0;
  const fold = (x: number, y: number, s: number, color: number) => {
    if (!(x >= 0 && x < width && y >= 0 && y < height)) {
      throw new ConfigError(`the history has a placement at ${x},${y}, outside a ${width}×${height} canvas: set CANVAS_WIDTH/CANVAS_HEIGHT to the canvas' size`);
    }
    const i = y * width + x;
    if (s > bestSeq[i]) {
      bestSeq[i] = s;
      colors[i] = color;
    }
  };
  const scanSegment = async (segment: number) => {
    let start: Record<string, never> | undefined;
    do {
      const out = await client.send(
        new ScanCommand({
          TableName: table,
          Segment: segment,
          TotalSegments: segments,
          ProjectionExpression: '#x, #y, #c, #s',
          ExpressionAttributeNames: { '#x': 'x', '#y': 'y', '#c': 'color', '#s': 'seq' },
          ExclusiveStartKey: start,
        }),
      );
      for (const it of out.Items ?? []) {
        const s = Number(it.seq?.N);
        items++;
        if (s > seq) seq = s;
        fold(Number(it.x?.N), Number(it.y?.N), s, Number(it.color?.N));
      }
      start = out.LastEvaluatedKey as typeof start;
    } while (start);
  };
  await Promise.all(Array.from({ length: segments }, (_, s) => scanSegment(s)));
  for await (const page of more ?? []) {
    for (const p of page) fold(p.x, p.y, p.seq, p.color);
    streamEntries += page.length;
  }

  const full = Buffer.alloc(boardBytes(width, height));
  let highest = -1;
  let pixels = 0;
  for (let i = 0; i < bestSeq.length; i++) {
    if (bestSeq[i] === 0) continue;
    pixels++;
    highest = i;
    const byte = i >> 1;
    // BITFIELD u4 layout: even pixels in the high nibble.
    full[byte] = i % 2 === 0 ? (full[byte] & 0x0f) | (colors[i] << 4) : (full[byte] & 0xf0) | colors[i];
  }
  return { bytes: full.subarray(0, highest >= 0 ? (highest >> 1) + 1 : 0), seq, items, pixels, streamEntries };
}

/** The stream's entries from its oldest one the history group has not acknowledged (all of them without a group). */
async function* unwrittenEntries(redis: Redis, stream: string, state: StreamState): AsyncGenerator<Placement[]> {
  if (state.length === 0) return;
  let start = `${state.group ? oldestUnwritten(state as StreamState & { group: NonNullable<StreamState['group']> }) : state.firstSeq}-0`;
  for (;;) {
    const page = (await redis.xrange(stream, start, '+', 'COUNT', 10_000)) as [string, string[]][];
    if (page.length === 0) return;
    yield page.map(([id, fields]) => parseEntry(id, fields));
    start = `(${page[page.length - 1][0]}`;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { force: { type: 'boolean', default: false }, segments: { type: 'string', default: '8' }, skip: { type: 'string' } },
  });
  const config = opsConfig();
  if (!config.redisUrl) throw new ConfigError('REDIS_URL must name the Redis to rebuild');
  const segments = wholeNumber('segments', values.segments, 1, 1000);
  const skip = values.skip === undefined ? provableSkip(config.historyBacklogMax) : wholeNumber('skip', values.skip, 0, 1e12);
  if (values.skip === undefined && skip === 0) {
    throw new ConfigError('HISTORY_BACKLOG_MAX is 0, so nothing bounds the seqs acknowledged but never written to the history: pass --skip N, more than the history backlog can have held');
  }
  const keys = canvasKeys(config.canvasId);
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 });
  const dynamo = opsDynamo(config);
  const token = `ops:rebuild:${randomBytes(6).toString('hex')}`;
  let locked = false;
  try {
    await redis.connect();
    const [existingSeq, hasBoard, fenced] = await Promise.all([redis.get(keys.seq), redis.exists(keys.board), redis.exists(keys.fence)]);
    if ((existingSeq !== null || hasBoard) && !fenced && !values.force) {
      throw new Error(`canvas "${config.canvasId}" still has a board or seq (seq ${existingSeq ?? 'unset'}) and is not fenced; pass --force to overwrite them`);
    }
    if (!(await redis.set(keys.recovering, token, 'PX', 600_000, 'NX'))) {
      throw new Error(`another recovery holds ${keys.recovering} (${await redis.get(keys.recovering)}): wait for it, or delete the key if it is stale`);
    }
    locked = true;
    const started = Date.now();
    // Every container stops placing (503, /readyz 503) while the board is rebuilt; nothing moves the seq meanwhile.
    await redis.multi().hsetnx(keys.fence, 'reason', 'rebuild').hsetnx(keys.fence, 'by', token).hsetnx(keys.fence, 'at', String(started)).exec();
    const stream = await readStreamState(redis, keys.stream, HISTORY_GROUP);
    const board = await boardFromHistory(dynamo, config.dynamoTable!, config.width, config.height, segments, unwrittenEntries(redis, keys.stream, stream));
    if (board.items === 0 && board.streamEntries === 0) throw new Error(`the history table ${config.dynamoTable} is empty: nothing to rebuild`);
    const [epoch, seqText, fenceHighWater] = await Promise.all([redis.get(keys.epoch), redis.get(keys.seq), redis.hget(keys.fence, 'highWater')]);
    const redisSeq = Number(seqText ?? 0);
    // Past every seq anyone may have been told: the history's, the containers' high-water marks, the stream's,
    // then the margin for what was acknowledged but never reached the history.
    const floor = Math.max(board.seq, Number(fenceHighWater ?? 0), stream.lastSeq, redisSeq);
    const seq = floor + skip;
    const epochId = newEpoch();
    const done = await recoverCanvas(redis, keys, { epoch: epoch ?? '', seq: redisSeq, newSeq: seq, newEpoch: epochId, lockToken: token, group: HISTORY_GROUP, board: board.bytes });
    if (!done) throw new Error('the canvas changed during the rebuild (another recovery, or placements): check it and run the command again');
    locked = false;
    const summary = { canvas: config.canvasId, seq, historySeq: board.seq, fenceHighWater: Number(fenceHighWater ?? 0), streamSeq: stream.lastSeq, redisSeq, skip, epoch: epochId };
    console.log(JSON.stringify({ ...summary, items: board.items, streamEntries: board.streamEntries, pixels: board.pixels, boardBytes: board.bytes.length, ms: Date.now() - started }));
  } finally {
    if (locked) {
      await releaseLock(redis, keys, token).catch(() => undefined);
      console.error('the seq fence stays up: placements stay stopped until a rebuild succeeds');
    }
    redis.disconnect();
    dynamo.destroy();
  }
}

function wholeNumber(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw ?? '') || n < min || n > max) throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

runIfMain(import.meta.url, main);
