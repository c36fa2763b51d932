// History writes that never overwrite a different placement: one conditional PutItem per item, accepted when the
// key is new or holds this very placement. The writer takes this path only where the item may already exist —
// entries claimed from another consumer, and entries handed to it again after Redis went back in time — and
// keeps BatchWriteItem (no conditions, 25 items a call) for new entries, whose seqs the seq fence keeps fresh.
import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backoffDelay, type WriteBatchOptions } from './batch-write.js';
import type { Item } from './items.js';

/** The key (pixel, seq) already holds another placement: the existing item is kept, the new one dropped. */
export interface Conflict {
  item: Item;
  /** what DynamoDB holds (when it says) */
  existing?: Item;
}

export interface GuardedResult {
  /** false when abandoned at shutdown (the entries stay pending for another container) */
  written: boolean;
  conflicts: Conflict[];
  /** items that were already there, identical (a batch written before and then handed out again): not new */
  rewritten: number;
}

const SAME_PLACEMENT = 'attribute_not_exists(pk) OR (userId = :u AND placedAt = :t AND color = :c)';

export async function writeGuarded(client: DynamoDBClient, table: string, items: Item[], opts: WriteBatchOptions): Promise<GuardedResult> {
  const conflicts: Conflict[] = [];
  let rewritten = 0;
  const outcomes = await Promise.all(
    items.map(async (item): Promise<boolean> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await client.send(
            new PutItemCommand({
              TableName: table,
              Item: item,
              ConditionExpression: SAME_PLACEMENT,
              ExpressionAttributeValues: { ':u': item.userId, ':t': item.placedAt, ':c': item.color },
              // The old item comes back when there was one: that tells a rewrite from a first write.
              ReturnValues: 'ALL_OLD',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          if (out.Attributes) rewritten++;
          opts.onSuccess?.();
          return true;
        } catch (err) {
          if (err instanceof ConditionalCheckFailedException) {
            conflicts.push({ item, existing: err.Item as Item | undefined });
            return true;
          }
          opts.onRetry('error', { items: 1, attempt, err });
        }
        if (opts.abandoned()) return false;
        await new Promise<void>((r) => setTimeout(r, backoffDelay(attempt, opts.backoff)).unref());
        if (opts.abandoned()) return false;
      }
    }),
  );
  return { written: outcomes.every(Boolean), conflicts, rewritten };
}
