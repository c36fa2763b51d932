// ops:export — every placement in a time range, as newline-delimited JSON in seq order (replays, timelapses).
//   npm run --silent ops:export -- --from 2026-01-16T12:00Z --to 2026-01-16T13:00Z [--out file.ndjson]
// Reads DYNAMODB_TABLE (DYNAMODB_ENDPOINT locally) like the service. --from is inclusive, --to exclusive.
// Line: {"seq":…,"x":…,"y":…,"color":…,"userId":"…","placedAt":<epoch ms>}
// The byTime index is read minute by minute and merged into exact seq order (history/time-range.ts).
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../service/src/config.js';
import { placementsInRange } from '../service/src/history/time-range.js';
import { opsConfig, opsDynamo, parseTime, runIfMain } from './common.js';

/** Writes every placement in [from, to) to `out` in seq order; returns how many. */
export async function exportRange(client: DynamoDBClient, table: string, from: number, to: number, out: Writable): Promise<number> {
  let written = 0;
  for await (const batch of placementsInRange(client, table, from, to)) {
    for (const p of batch) {
      const line = JSON.stringify({ seq: p.seq, x: p.x, y: p.y, color: p.color, userId: p.userId, placedAt: p.placedAt }) + '\n';
      if (!out.write(line)) await once(out, 'drain');
      written++;
    }
  }
  return written;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } } });
  const from = parseTime('from', values.from);
  const to = parseTime('to', values.to);
  if (to <= from) throw new ConfigError('--to must be after --from');
  const config = opsConfig();
  const dynamo = opsDynamo(config);
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  try {
    const n = await exportRange(dynamo, config.dynamoTable!, from, to, out);
    if (values.out) {
      out.end();
      await once(out, 'finish');
    }
    console.error(JSON.stringify({ exported: n, from: new Date(from).toISOString(), to: new Date(to).toISOString() }));
  } finally {
    dynamo.destroy();
  }
}

runIfMain(import.meta.url, main);
