// ops:rebuild — rebuilds the Redis board and seq from the DynamoDB history, for the day Redis loses its data.
//   npm run ops:rebuild -- [--force] [--segments 8]
// Reads REDIS_URL, CANVAS_ID, CANVAS_WIDTH, CANVAS_HEIGHT, DYNAMODB_TABLE (DYNAMODB_ENDPOINT locally) like the service.
// Every pixel takes the colour of its highest-seq item; the seq becomes the highest seq of all. Run it with the
// service stopped (or scaled to zero): placements accepted meanwhile would be overwritten.
import { parseArgs } from 'node:util';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { ConfigError } from '../service/src/config.js';
import { canvasKeys } from '../service/src/store/redis.js';
import { boardBytes } from '../service/src/store/store.js';
import { opsConfig, opsDynamo, runIfMain } from './common.js';

export interface RebuiltBoard {
  /** Exactly the string BITFIELD would have grown: up to the byte of the highest pixel ever placed. */
  bytes: Buffer;
  seq: number;
  items: number;
  pixels: number;
}

/** A parallel Scan of the table (only x, y, colour and seq): the latest placement of every pixel wins. */
export async function boardFromHistory(client: DynamoDBClient, table: string, width: number, height: number, segments = 8): Promise<RebuiltBoard> {
  const bestSeq = new Float64Array(width * height);
  const colors = new Uint8Array(width * height);
  let items = 0;
  let seq = 0;
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
        const x = Number(it.x?.N);
        const y = Number(it.y?.N);
        const s = Number(it.seq?.N);
        if (!(x >= 0 && x < width && y >= 0 && y < height)) {
          throw new ConfigError(`the history has a placement at ${x},${y}, outside a ${width}×${height} canvas: set CANVAS_WIDTH/CANVAS_HEIGHT to the canvas' size`);
        }
        items++;
        if (s > seq) seq = s;
        const i = y * width + x;
        if (s > bestSeq[i]) {
          bestSeq[i] = s;
          colors[i] = Number(it.color?.N);
        }
      }
      start = out.LastEvaluatedKey as typeof start;
    } while (start);
  };
  await Promise.all(Array.from({ length: segments }, (_, s) => scanSegment(s)));

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
  return { bytes: full.subarray(0, highest >= 0 ? (highest >> 1) + 1 : 0), seq, items, pixels };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { force: { type: 'boolean', default: false }, segments: { type: 'string', default: '8' } } });
  const config = opsConfig();
  if (!config.redisUrl) throw new ConfigError('REDIS_URL must name the Redis to rebuild');
  const segments = Number(values.segments);
  if (!Number.isInteger(segments) || segments < 1 || segments > 1000) throw new ConfigError('--segments must be 1..1000');
  const keys = canvasKeys(config.canvasId);
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 });
  const dynamo = opsDynamo(config);
  try {
    await redis.connect();
    const [existingSeq, hasBoard] = await Promise.all([redis.get(keys.seq), redis.exists(keys.board)]);
    if ((existingSeq !== null || hasBoard) && !values.force) {
      throw new Error(`canvas "${config.canvasId}" still has a board or seq (seq ${existingSeq ?? 'unset'}); pass --force to overwrite them`);
    }
    const started = Date.now();
    const board = await boardFromHistory(dynamo, config.dynamoTable!, config.width, config.height, segments);
    if (board.items === 0) throw new Error(`the history table ${config.dynamoTable} is empty: nothing to rebuild`);
    const lastStreamSeq = await streamLastSeq(redis, keys.stream);
    if (lastStreamSeq > board.seq) {
      // XADD refuses ids at or below the stream's last one: with a lower seq every placement would fail.
      throw new Error(`the stream already reached seq ${lastStreamSeq}, beyond the history's ${board.seq}: let the history writer drain it, or delete ${keys.stream} if it is stale`);
    }
    await redis.multi().set(keys.board, board.bytes).set(keys.seq, String(board.seq)).exec();
    console.log(JSON.stringify({ canvas: config.canvasId, seq: board.seq, items: board.items, pixels: board.pixels, boardBytes: board.bytes.length, ms: Date.now() - started }));
  } finally {
    redis.disconnect();
    dynamo.destroy();
  }
}

/** The last seq the stream ever took (0 when it does not exist). */
async function streamLastSeq(redis: Redis, stream: string): Promise<number> {
  try {
    const info = (await redis.xinfo('STREAM', stream)) as unknown[];
    const id = String(info[info.indexOf('last-generated-id') + 1]);
    return Number(id.slice(0, id.indexOf('-')));
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return 0;
    throw err;
  }
}

runIfMain(import.meta.url, main);
