// The history read a page at a time, for jobs that must not hold a whole range in memory (rollbacks). Each
// page carries a cursor a later reader can resume from: a byte offset in placements.log (embedded), the
// byUser index's LastEvaluatedKey, or the last seq of a time-range read (DynamoDB).
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MAX_PAYLOAD, placementAt, scanLog } from '../store/placement-log.js';
import type { Placement } from '../store/store.js';
import { fromItem, INDEX_BY_USER, userKey, type Item } from './items.js';
import { placementsInRange } from './time-range.js';

export interface HistoryQuery {
  /** Read through the user's index when given, else through the time range. */
  userId?: string;
  fromMs: number;
  /** Inclusive. */
  toMs: number;
}

export interface HistoryPage {
  /** The placements of the page in the query's range (and of the user, when given), oldest first. */
  items: Placement[];
  /** Where the next page starts. */
  cursor: string;
}

const inRange = (p: Placement, q: HistoryQuery) => p.placedAt >= q.fromMs && p.placedAt <= q.toMs && (!q.userId || p.userId === q.userId);

/** Embedded: placements.log from a byte offset, about pageSize records per page (≈ 64 bytes each). */
export async function* logPages(path: string, q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncGenerator<HistoryPage> {
  if (!existsSync(path)) return;
  let from = cursor ? Number(cursor) : 0;
  for (;;) {
    const fd = openSync(path, 'r');
    const items: Placement[] = [];
    let next: number;
    try {
      const size = fstatSync(fd).size;
      if (from >= size) return;
      const read = (end: number) => scanLog(fd, from, end, (payload, start) => {
        const p = placementAt(path, payload, start);
        if (inRange(p, q)) items.push(p);
      }).end;
      next = read(Math.min(size, from + pageSize * 64));
      // A window smaller than the record at its start: take that record whole.
      if (next === from) next = read(Math.min(size, from + MAX_PAYLOAD + 64));
      if (next === from) return; // a torn tail: nothing more is acknowledged
    } finally {
      closeSync(fd);
    }
    from = next;
    yield { items, cursor: String(next) };
    // Let placements and requests run between pages.
    await new Promise((r) => setImmediate(r));
  }
}

/** DynamoDB, one user: the byUser index in seq order, pageSize items per Query. */
export async function* userPages(client: DynamoDBClient, table: string, q: HistoryQuery & { userId: string }, cursor: string | undefined, pageSize: number): AsyncGenerator<HistoryPage> {
  let start = cursor ? (JSON.parse(cursor) as Record<string, never>) : undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        IndexName: INDEX_BY_USER,
        KeyConditionExpression: 'gsi1pk = :u',
        FilterExpression: 'placedAt BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':u': { S: userKey(q.userId) }, ':from': { N: String(q.fromMs) }, ':to': { N: String(q.toMs) } },
        ExclusiveStartKey: start,
        Limit: pageSize,
      }),
    );
    start = page.LastEvaluatedKey as typeof start;
    yield { items: (page.Items ?? []).map((it) => fromItem(it as Item)), cursor: start ? JSON.stringify(start) : 'end' };
  } while (start);
}

/**
 * DynamoDB, a time range: the byTime index minute by minute (time-range.ts), cut into pages of pageSize.
 * The cursor is "<seq>:<placedAt>" of the last placement given; a resumed read starts a minute (the clock
 * skew time-range.ts allows) before that placedAt and skips seqs up to it.
 */
export async function* rangePages(client: DynamoDBClient, table: string, q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncGenerator<HistoryPage> {
  const [afterSeq, lastAt] = cursor ? cursor.split(':').map(Number) : [0, q.fromMs];
  const from = Math.max(q.fromMs, lastAt - 60_000);
  let items: Placement[] = [];
  for await (const batch of placementsInRange(client, table, from, q.toMs + 1)) {
    for (const p of batch) {
      if (p.seq <= afterSeq) continue;
      items.push(p);
      if (items.length >= pageSize) {
        yield { items, cursor: `${p.seq}:${p.placedAt}` };
        items = [];
      }
    }
  }
  const last = items[items.length - 1];
  if (last) yield { items, cursor: `${last.seq}:${last.placedAt}` };
}
