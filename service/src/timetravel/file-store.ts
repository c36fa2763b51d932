// Embedded keyframes: files under DATA_DIR/keyframes. Each blob is written atomically (temporary file, fsync,
// rename) before its entry is appended to manifest.jsonl, so a crash leaves at worst unlisted blobs, which the
// next write of that seq replaces. A torn last manifest line (a crash mid-append) is ignored and cut off.
import { existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { appendFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../store/atomic-file.js';
import type { KeyframeEntry } from './codec.js';
import { BLOB_KINDS, type BlobKind, type KeyframeBlobs, type KeyframeStore } from './blob-store.js';

export class FileKeyframeStore implements KeyframeStore {
  readonly dir: string;
  private readonly manifestPath: string;
  private entries: KeyframeEntry[];

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'keyframes');
    mkdirSync(this.dir, { recursive: true });
    this.manifestPath = join(this.dir, 'manifest.jsonl');
    this.entries = this.load();
  }

  private load(): KeyframeEntry[] {
    if (!existsSync(this.manifestPath)) return [];
    const text = readFileSync(this.manifestPath, 'utf8');
    const out: KeyframeEntry[] = [];
    let good = 0;
    for (const line of text.split('\n')) {
      if (!line) break;
      try {
        const e = JSON.parse(line) as KeyframeEntry;
        if (!Number.isSafeInteger(e.seq) || (out.length && e.seq <= out[out.length - 1].seq)) break;
        out.push(e);
        good += Buffer.byteLength(line) + 1;
      } catch {
        break;
      }
    }
    if (good < Buffer.byteLength(text)) truncateSync(this.manifestPath, good);
    return out;
  }

  private path(seq: number, kind: BlobKind): string {
    return join(this.dir, `${String(seq).padStart(12, '0')}.${kind}`);
  }

  async list(): Promise<KeyframeEntry[]> {
    return this.entries;
  }

  async blob(seq: number, kind: BlobKind): Promise<Buffer | undefined> {
    if (!this.entries.some((e) => e.seq === seq)) return undefined;
    return readFile(this.path(seq, kind)).catch(() => undefined);
  }

  async put(entry: KeyframeEntry, blobs: KeyframeBlobs): Promise<void> {
    for (const kind of BLOB_KINDS) await writeFileAtomic(this.path(entry.seq, kind), blobs[kind]);
    const last = this.entries[this.entries.length - 1];
    const next = [...this.entries.filter((e) => e.seq !== entry.seq), entry].sort((a, b) => a.seq - b.seq);
    // Appending keeps the manifest in seq order only past its end; anything else rewrites it whole.
    if (!last || entry.seq > last.seq) await appendFile(this.manifestPath, JSON.stringify(entry) + '\n');
    else writeFileAtomicSync(this.manifestPath, Buffer.from(next.map((e) => JSON.stringify(e) + '\n').join('')));
    this.entries = next;
  }

  async remove(seq: number): Promise<void> {
    this.entries = this.entries.filter((e) => e.seq !== seq);
    writeFileAtomicSync(this.manifestPath, Buffer.from(this.entries.map((e) => JSON.stringify(e) + '\n').join('')));
    for (const kind of BLOB_KINDS) await rm(this.path(seq, kind), { force: true });
  }
}
