// The history's questions in Redis mode, answered from DynamoDB: a pixel (GET /api/pixel), a user and a
// time range (moderation rollbacks). It shows what DynamoDB has: a placement appears once the writer
// has written it (normally well under a second later).
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { PixelHistory } from '../context.js';
import type { Placement } from '../store/store.js';
import { fromItem, INDEX_BY_USER, pixelKey, userKey, type Item } from './items.js';
import { rangePages, userPages, type HistoryPage, type HistoryQuery } from './pages.js';
import { placementsInRange } from './time-range.js';

export class DynamoPixelHistory implements PixelHistory {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /** One Query on the pixel's partition, newest seq first. */
  async pixel(x: number, y: number, limit: number): Promise<Placement[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: pixelKey(x, y) } },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map(fromItem);
  }

  /** The byUser index, oldest first; the time filter runs server-side (a user has one item per cooldown). */
  async byUser(userId: string, fromMs: number, toMs: number): Promise<Placement[]> {
    const out: Placement[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: INDEX_BY_USER,
          KeyConditionExpression: 'gsi1pk = :u',
          FilterExpression: 'placedAt BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':u': { S: userKey(userId) }, ':from': { N: String(fromMs) }, ':to': { N: String(toMs) } },
          ExclusiveStartKey: start,
        }),
      );
      for (const it of page.Items ?? []) out.push(fromItem(it as Item));
      start = page.LastEvaluatedKey as typeof start;
    } while (start);
    return out;
  }

  /** Every placement with placedAt in [fromMs, toMs] (inclusive), oldest first. */
  async inRange(fromMs: number, toMs: number): Promise<Placement[]> {
    const out: Placement[] = [];
    for await (const batch of placementsInRange(this.client, this.table, fromMs, toMs + 1)) for (const p of batch) out.push(p);
    return out;
  }

  pages(q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncIterable<HistoryPage> {
    if (q.userId) return userPages(this.client, this.table, { ...q, userId: q.userId }, cursor, pageSize);
    return rangePages(this.client, this.table, q, cursor, pageSize);
  }
}
