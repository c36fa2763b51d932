// One batch of ≤ 25 items into DynamoDB, however long it takes: UnprocessedItems (throttling) and failed
// calls (outage, timeouts) are retried with exponential backoff and full jitter, so a recovering DynamoDB
// is not hit by every container at the same instant.
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { Item } from './items.js';

export const MAX_BATCH = 25;

export interface Backoff {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 50, capMs: 5000 };

/** "Full jitter": a uniformly random wait up to the exponential ceiling. */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF): number {
  return Math.random() * Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 20));
}

export interface WriteBatchOptions {
  backoff?: Backoff;
  /** Checked before every wait: when true the batch is given up (left unacknowledged for another container). */
  abandoned(): boolean;
  /** Each retry, for metrics and logs: `unprocessed` items DynamoDB handed back, or a failed call. */
  onRetry(reason: 'unprocessed' | 'error', detail: { items: number; attempt: number; err?: unknown }): void;
  /** The first call that succeeds after failures (so the caller can log recovery once). */
  onSuccess?(): void;
}

/** Resolves true once DynamoDB has every item, false if abandoned first. Never drops an item. */
export async function writeBatch(client: DynamoDBClient, table: string, items: Item[], opts: WriteBatchOptions): Promise<boolean> {
  if (items.length > MAX_BATCH) throw new Error(`a batch holds at most ${MAX_BATCH} items, got ${items.length}`);
  let pending: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; ; attempt++) {
    try {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      opts.onSuccess?.();
      pending = out.UnprocessedItems?.[table] ?? [];
      if (pending.length === 0) return true;
      opts.onRetry('unprocessed', { items: pending.length, attempt });
    } catch (err) {
      opts.onRetry('error', { items: pending.length, attempt, err });
    }
    if (opts.abandoned()) return false;
    await sleep(backoffDelay(attempt, opts.backoff));
    if (opts.abandoned()) return false;
  }
}

/** Unref'd: a pending backoff never keeps a stopped process alive; loops re-check their flags after it. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
