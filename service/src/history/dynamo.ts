// The DynamoDB client of the history, and the table itself when running against DynamoDB Local.
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { INDEX_BY_TIME, INDEX_BY_USER } from './items.js';

export interface DynamoOptions {
  /** DYNAMODB_ENDPOINT: a local endpoint (DynamoDB Local); unset in the cloud. */
  endpoint?: string;
  /** Sockets kept open to DynamoDB: at least the writes in flight plus the reads. */
  maxSockets?: number;
  /** SDK attempts per call; the writer retries by itself (with its own backoff and metrics), so it passes 1. */
  maxAttempts?: number;
  /** A DynamoDB that hangs must not hold a call forever: it fails and is retried (writes) or answered 503 (reads). */
  requestTimeoutMs?: number;
}

export function createDynamoClient(opts: DynamoOptions): DynamoDBClient {
  const local = Boolean(opts.endpoint);
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 32 };
  return new DynamoDBClient({
    endpoint: opts.endpoint,
    // DynamoDB Local takes any credentials; without explicit ones the SDK would walk its provider chain
    // (and probe the instance metadata address) on a laptop. In the cloud the task role's credentials are used.
    ...(local
      ? {
          region: process.env.AWS_REGION || 'us-east-1',
          credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'local', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'local' },
        }
      : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: 3000,
      requestTimeout: opts.requestTimeoutMs ?? 10_000,
      // Without it this SDK only logs a warning when the timeout passes, and the call hangs on.
      throwOnRequestTimeout: true,
      httpAgent: new Agent(agentOpts),
      httpsAgent: new HttpsAgent(agentOpts),
    },
  });
}

/** The table schema Pulumi creates in the cloud (infra-pulumi/table.ts); the service creates it only locally. */
export function tableDefinition(table: string): CreateTableCommandInput {
  const index = (IndexName: string, hash: string) => ({
    IndexName,
    KeySchema: [
      { AttributeName: hash, KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi2pk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [index(INDEX_BY_USER, 'gsi1pk'), index(INDEX_BY_TIME, 'gsi2pk')],
  };
}

/** Creates the table when missing (several containers may race: the loser sees ResourceInUse) and waits until ACTIVE. */
export async function ensureTable(client: DynamoDBClient, table: string, timeoutMs = 30_000): Promise<'created' | 'existed'> {
  let outcome: 'created' | 'existed' = 'existed';
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    try {
      await client.send(new CreateTableCommand(tableDefinition(table)));
      outcome = 'created';
    } catch (createErr) {
      if (!(createErr instanceof ResourceInUseException)) throw createErr;
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.send(new DescribeTableCommand({ TableName: table }));
    const indexesActive = (d.Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (d.Table?.TableStatus === 'ACTIVE' && indexesActive) return outcome;
    if (Date.now() > deadline) throw new Error(`table ${table} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
