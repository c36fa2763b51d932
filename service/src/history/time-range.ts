// All placements in a time range, in seq order, from the byTime index (ops:export, moderation rollbacks).
// It queries minute by minute, 4 shards each (each shard sorted by seq), and merges. Seqs follow placedAt
// only up to the containers' clock skew, so a placement stamped in minute m may have a smaller seq than
// one stamped in m-1. An item is released only once the newest loaded minute proves nothing smaller can
// still come (true while the skew is under one minute), which keeps the order exact.
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Placement } from '../store/store.js';
import { fromItem, INDEX_BY_TIME, minuteOf, TIME_SHARDS, timeKey, type Item } from './items.js';

const MINUTE = 60_000;
/** Minutes fetched ahead while the current one is consumed. */
const PREFETCH = 4;

async function queryShard(client: DynamoDBClient, table: string, minute: string, shard: number): Promise<Placement[]> {
  const out: Placement[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        IndexName: INDEX_BY_TIME,
        KeyConditionExpression: 'gsi2pk = :k',
        ExpressionAttributeValues: { ':k': { S: timeKey(minute, shard) } },
        ExclusiveStartKey: start,
      }),
    );
    for (const it of page.Items ?? []) out.push(fromItem(it as Item));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return out;
}

/** One minute's placements with placedAt in [from, to), sorted by seq. */
async function minutePlacements(client: DynamoDBClient, table: string, minuteStart: number, from: number, to: number): Promise<Placement[]> {
  const minute = minuteOf(minuteStart);
  const shards = await Promise.all(Array.from({ length: TIME_SHARDS }, (_, s) => queryShard(client, table, minute, s)));
  return shards
    .flat()
    .filter((p) => p.placedAt >= from && p.placedAt < to)
    .sort((a, b) => a.seq - b.seq);
}

/** Placements with placedAt in [from, to) (to exclusive), in seq order, a batch at a time. */
export async function* placementsInRange(client: DynamoDBClient, table: string, from: number, to: number): AsyncGenerator<Placement[]> {
  const minutes: number[] = [];
  for (let m = Math.floor(from / MINUTE) * MINUTE; m < to; m += MINUTE) minutes.push(m);
  const fetches = new Map<number, Promise<Placement[]>>();
  const fetch = (i: number) => {
    if (i < minutes.length && !fetches.has(i)) {
      const p = minutePlacements(client, table, minutes[i], from, to);
      p.catch(() => undefined); // awaited in turn below; a prefetch must not fail unobserved
      fetches.set(i, p);
    }
  };
  let held: Placement[] = [];
  for (let i = 0; i < minutes.length; i++) {
    for (let j = i; j <= i + PREFETCH; j++) fetch(j);
    const current = await fetches.get(i)!;
    fetches.delete(i);
    // Everything held below this minute's smallest seq is final (see the note at the top).
    const bound = current.length ? current[0].seq : Infinity;
    const merged = held.length ? [...held, ...current].sort((a, b) => a.seq - b.seq) : current;
    const ready = merged.filter((p) => p.seq < bound);
    held = merged.filter((p) => p.seq >= bound);
    if (ready.length) yield ready;
  }
  if (held.length) yield held;
}
