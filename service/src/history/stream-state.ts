// Where the history group stands in the placements stream, read in one MULTI so the numbers agree.
// Stream ids are "<seq>-0" with consecutive seqs, so "not yet written" is plain arithmetic on seqs.
import type { Redis } from 'ioredis';
import { parseEntry } from '../store/redis.js';

export interface GroupState {
  /** seq of the last entry handed to any consumer */
  lastDelivered: number;
  /** entries handed out and not yet acknowledged */
  pending: number;
  /** smallest pending seq, 0 when none */
  oldestPending: number;
}

export interface StreamState {
  length: number;
  /** 0 when the stream is empty */
  firstSeq: number;
  /** the last seq ever added (survives trimming) */
  lastSeq: number;
  /** undefined when the group does not exist (yet) */
  group?: GroupState;
}

export const seqOf = (id: string): number => Number(id.slice(0, id.indexOf('-')));

/** Flat [k1, v1, k2, v2…] replies → a map. */
function pairs(reply: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1]);
  return m;
}

export async function readStreamState(redis: Redis, stream: string, group?: string): Promise<StreamState> {
  const tx = redis.multi().xinfo('STREAM', stream).xinfo('GROUPS', stream);
  if (group) tx.xpending(stream, group);
  const res = (await tx.exec()) ?? [];
  const [infoErr, info] = res[0] ?? [];
  if (infoErr) {
    if (/no such key/i.test(infoErr.message)) return { length: 0, firstSeq: 0, lastSeq: 0 };
    throw infoErr;
  }
  const s = pairs(info as unknown[]);
  const first = s.get('first-entry') as [string, string[]] | null;
  const state: StreamState = {
    length: Number(s.get('length')),
    firstSeq: first ? seqOf(first[0]) : 0,
    lastSeq: seqOf(String(s.get('last-generated-id'))),
  };
  if (!group) return state;
  const groups = ((res[1]?.[1] ?? []) as unknown[][]).map(pairs);
  const g = groups.find((m) => String(m.get('name')) === group);
  if (!g) return state;
  const [pendErr, pend] = res[2] ?? [];
  if (pendErr) throw pendErr;
  const [count, smallest] = pend as [number, string | null];
  state.group = { lastDelivered: seqOf(String(g.get('last-delivered-id'))), pending: Number(count), oldestPending: smallest ? seqOf(smallest) : 0 };
  return state;
}

/** The oldest seq the group has not acknowledged (pending, or never delivered); lastSeq + 1 when caught up. */
export function oldestUnwritten(s: StreamState & { group: GroupState }): number {
  const undelivered = s.group.lastDelivered + 1;
  return s.group.pending > 0 ? Math.min(s.group.oldestPending, undelivered) : undelivered;
}

/** How many placements are not yet in DynamoDB. */
export function unwrittenCount(s: StreamState & { group: GroupState }): number {
  return s.group.pending + Math.max(0, s.lastSeq - s.group.lastDelivered);
}

/** The entry with the smallest seq ≥ seq, or null. */
export async function entryAtOrAfter(redis: Redis, stream: string, seq: number) {
  const r = (await redis.xrange(stream, `${seq}-0`, '+', 'COUNT', 1)) as [string, string[]][];
  return r.length ? parseEntry(r[0][0], r[0][1]) : null;
}
