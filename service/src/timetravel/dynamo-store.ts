// Keyframes in DynamoDB (Redis mode), in a table of their own (KEYFRAME_TABLE): the history table's Scan
// (ops:rebuild) and its indexes must see placements only. Two kinds of item, pk (S) + sk (N):
//   pk "M"                 sk = seq   the manifest entry (from, at, firstAt, count, parts per blob)
//   pk "B#<seq>#<kind>"    sk = i     part i of a blob, attribute d (B), at most PART_BYTES
// DynamoDB refuses items over 400 KB (names and values together); a 1000×1000 board that compresses badly
// is ~500 KB, so blobs are cut into parts of PART_BYTES, written first; the manifest item last.
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { KeyframeEntry } from './codec.js';
import { BLOB_KINDS, BlobCache, type BlobKind, type KeyframeBlobs, type KeyframeStore } from './blob-store.js';

/** Well under the 400 KB item limit, leaving room for the keys and attribute names. */
export const PART_BYTES = 350_000;
const MANIFEST = 'M';
const blobKey = (seq: number, kind: BlobKind) => `B#${seq}#${kind}`;
/** How long a container trusts its copy of the manifest before asking for newer entries (other containers write). */
const LIST_TTL_MS = 1000;

export function splitParts(data: Buffer, size = PART_BYTES): Buffer[] {
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += size) parts.push(data.subarray(o, Math.min(data.length, o + size)));
  return parts.length ? parts : [Buffer.alloc(0)];
}

export class DynamoKeyframeStore implements KeyframeStore {
  private entries: KeyframeEntry[] = [];
  private parts = new Map<number, Record<BlobKind, number>>();
  private listedAt = 0;
  private listing: Promise<KeyframeEntry[]> | undefined;
  private readonly cache = new BlobCache(64 << 20);

  private generation: string | null = null;

  /**
   * @param rewritten the generation of the manifest (Redis: `kf:gen`, bumped by ops:keyframes, which may remove
   *   entries); when it changes, the copy of the manifest is read again whole.
   */
  constructor(
    private readonly client: DynamoDBClient,
    readonly table: string,
    private readonly rewritten?: () => Promise<string | null>,
  ) {}

  /** DynamoDB Local only (DYNAMODB_ENDPOINT): the cloud's table comes from the infrastructure. */
  async ensureTable(timeoutMs = 30_000): Promise<void> {
    try {
      await this.client.send(new DescribeTableCommand({ TableName: this.table }));
      return;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'N' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
        }),
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    const deadline = Date.now() + timeoutMs;
    while ((await this.client.send(new DescribeTableCommand({ TableName: this.table }))).Table?.TableStatus !== 'ACTIVE') {
      if (Date.now() > deadline) throw new Error(`table ${this.table} not ACTIVE after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async list(): Promise<KeyframeEntry[]> {
    if (Date.now() - this.listedAt < LIST_TTL_MS) return this.entries;
    // One query at a time, shared by every request that arrives meanwhile.
    this.listing ??= this.fetchNewer().finally(() => (this.listing = undefined));
    return this.listing;
  }

  /** Entries past the newest one known (the manifest only grows at its end, except ops:keyframes: see reload). */
  private async fetchNewer(): Promise<KeyframeEntry[]> {
    if (this.rewritten) {
      const gen = await this.rewritten();
      if (gen !== this.generation) {
        this.reload();
        this.generation = gen;
      }
    }
    const after = this.entries.length ? this.entries[this.entries.length - 1].seq : -1;
    const added: KeyframeEntry[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :m AND sk > :after',
          ExpressionAttributeValues: { ':m': { S: MANIFEST }, ':after': { N: String(after) } },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const it of page.Items ?? []) {
        const e = { seq: Number(it.sk.N), from: Number(it.from.N), at: Number(it.at.N), firstAt: Number(it.firstAt.N), count: Number(it.count.N) };
        this.parts.set(e.seq, { k: Number(it.pk_k?.N ?? 1), r: Number(it.pk_r?.N ?? 1), u: Number(it.pk_u?.N ?? 1) });
        added.push(e);
      }
      start = page.LastEvaluatedKey as typeof start;
    } while (start);
    const last = this.entries.length ? this.entries[this.entries.length - 1].seq : -1;
    const fresh = added.filter((e) => e.seq > last);
    if (fresh.length) this.entries = [...this.entries, ...fresh];
    this.listedAt = Date.now();
    return this.entries;
  }

  /** Forgets the copy of the manifest (after ops:keyframes rewrote it). */
  reload(): void {
    this.cache.clear();
    this.entries = [];
    this.parts.clear();
    this.listedAt = 0;
  }

  async blob(seq: number, kind: BlobKind): Promise<Buffer | undefined> {
    const key = blobKey(seq, kind);
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (!this.parts.has(seq)) {
      this.listedAt = 0;
      await this.list();
    }
    const n = this.parts.get(seq)?.[kind];
    if (n === undefined) return undefined;
    const chunks: Buffer[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :b', ExpressionAttributeValues: { ':b': { S: key } }, ExclusiveStartKey: start }),
      );
      for (const it of page.Items ?? []) chunks.push(Buffer.from(it.d.B!));
      start = page.LastEvaluatedKey as typeof start;
    } while (start);
    if (chunks.length !== n) throw new Error(`keyframe ${seq} blob ${kind}: ${chunks.length} parts stored, ${n} listed`);
    const data = Buffer.concat(chunks);
    this.cache.set(key, data);
    return data;
  }

  async put(entry: KeyframeEntry, blobs: KeyframeBlobs): Promise<void> {
    const counts = {} as Record<BlobKind, number>;
    for (const kind of BLOB_KINDS) {
      const parts = splitParts(blobs[kind]);
      counts[kind] = parts.length;
      await Promise.all(
        parts.map((d, i) => this.client.send(new PutItemCommand({ TableName: this.table, Item: { pk: { S: blobKey(entry.seq, kind) }, sk: { N: String(i) }, d: { B: d } } }))),
      );
    }
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: MANIFEST },
          sk: { N: String(entry.seq) },
          from: { N: String(entry.from) },
          at: { N: String(entry.at) },
          firstAt: { N: String(entry.firstAt) },
          count: { N: String(entry.count) },
          pk_k: { N: String(counts.k) },
          pk_r: { N: String(counts.r) },
          pk_u: { N: String(counts.u) },
        },
      }),
    );
    this.listedAt = 0;
  }

  async remove(seq: number): Promise<void> {
    const parts = this.parts.get(seq);
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: MANIFEST }, sk: { N: String(seq) } } }));
    for (const kind of BLOB_KINDS) {
      this.cache.delete(blobKey(seq, kind));
      for (let i = 0; i < (parts?.[kind] ?? 0); i++) {
        await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: blobKey(seq, kind) }, sk: { N: String(i) } } }));
      }
    }
    this.entries = this.entries.filter((e) => e.seq !== seq);
    this.parts.delete(seq);
  }
}
