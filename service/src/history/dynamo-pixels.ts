// GET /api/pixel in Redis mode: one Query on the table's partition for that pixel, newest seq first.
// It shows what DynamoDB has: a placement appears once the writer has it there (normally well under a second).
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { PixelHistory } from '../context.js';
import type { Placement } from '../store/store.js';
import { fromItem, pixelKey } from './items.js';

export class DynamoPixelHistory implements PixelHistory {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

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
}
