// One placement as a DynamoDB item, and the keys that answer the three history questions
// (the design and its reasoning are in docs/history.md):
//   table   pk     = "P#<x>,<y>"                   sk = seq  → one pixel's history, newest first
//   byUser  gsi1pk = "U#<userId>"                  sk = seq  → one user's placements
//   byTime  gsi2pk = "T#<yyyy-mm-ddThh:mm>#<seq%4>" sk = seq  → a minute of placements, 4 shards
// The key is a function of the placement alone, so a retried write overwrites the same item identically.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Placement } from '../store/store.js';

export type Item = Record<string, AttributeValue>;

export const INDEX_BY_USER = 'byUser';
export const INDEX_BY_TIME = 'byTime';
/** byTime shards per minute: 1,000 writes/s spread over 4 partitions stays under the 1,000 WCU per-partition limit. */
export const TIME_SHARDS = 4;

export const pixelKey = (x: number, y: number): string => `P#${x},${y}`;
export const userKey = (userId: string): string => `U#${userId}`;

/** "yyyy-mm-ddThh:mm", the UTC minute of an epoch-ms time. */
export function minuteOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

export const timeKey = (minute: string, shard: number): string => `T#${minute}#${shard}`;

export function toItem(p: Placement): Item {
  return {
    pk: { S: pixelKey(p.x, p.y) },
    sk: { N: String(p.seq) },
    gsi1pk: { S: userKey(p.userId) },
    gsi2pk: { S: timeKey(minuteOf(p.placedAt), p.seq % TIME_SHARDS) },
    x: { N: String(p.x) },
    y: { N: String(p.y) },
    color: { N: String(p.color) },
    userId: { S: p.userId },
    placedAt: { N: String(p.placedAt) },
    seq: { N: String(p.seq) },
    // Older placements have no network prefix hash.
    ...(p.net ? { net: { S: p.net } } : {}),
  };
}

export function fromItem(item: Item): Placement {
  return {
    seq: Number(item.seq?.N ?? item.sk?.N),
    x: Number(item.x?.N),
    y: Number(item.y?.N),
    color: Number(item.color?.N),
    userId: item.userId?.S ?? '',
    placedAt: Number(item.placedAt?.N),
    ...(item.net?.S ? { net: item.net.S } : {}),
  };
}

/** True when a stream entry parsed into something DynamoDB can store (only place.lua writes the stream). */
export function isWellFormed(p: Placement): boolean {
  return (
    Number.isSafeInteger(p.seq) && p.seq > 0 && Number.isInteger(p.x) && p.x >= 0 && Number.isInteger(p.y) && p.y >= 0 &&
    Number.isInteger(p.color) && typeof p.userId === 'string' && p.userId.length > 0 && Number.isFinite(p.placedAt)
  );
}
