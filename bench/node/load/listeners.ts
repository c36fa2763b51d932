// A child process holding many listening WebSockets (raw client), forked by the benchmark with IPC.
// It checks each socket's seqs (gap-free, no duplicates) and, for placements whose pixel encodes their
// due time (requests.ts clockEntry), fills a latency histogram of placement → frame arrival.
import { decodeFrame } from '../../../service/src/wire/frames.js';
import { Histogram } from '../stats.js';
import { clockAge, wallNow } from './requests.js';
import { RawWs } from './ws-client.js';

export type ListenerCommand =
  | { type: 'open'; port: number; count: number; localAddresses: string[]; clockLatency: boolean }
  | { type: 'reset' }
  | { type: 'report'; from: number; to: number }
  | { type: 'close' };

export interface ListenerReport {
  type: 'report';
  sockets: number;
  /** Sockets that received every seq from..to exactly once, in order. */
  complete: number;
  closedEarly: number;
  gaps: number;
  dups: number;
  frames: number;
  entries: number;
  histogram: number[];
  bucketMs: number;
}

interface Sock {
  ws: RawWs;
  first: number;
  last: number;
  gaps: number;
  dups: number;
  entries: number;
}

const BUCKET_MS = 0.5;
const socks: Sock[] = [];
let hist = new Histogram(BUCKET_MS, 20_000);
let frames = 0;
let clock = false;

function onFrame(s: Sock, f: Buffer): void {
  const first = f.readUInt32LE(1);
  const count = f.readUInt16LE(5);
  frames++;
  if (s.last >= 0 && first !== s.last + 1) {
    if (first > s.last + 1) s.gaps += first - s.last - 1;
    else s.dups += Math.min(count, s.last - first + 1);
  }
  if (s.first < 0) s.first = first;
  s.last = Math.max(s.last, first + count - 1);
  s.entries += count;
  if (clock) {
    // Only the latency needs the entries (their order does not matter here); the seqs come from the header.
    const now = wallNow();
    const frame = decodeFrame(f);
    if (!frame) throw new Error(`undecodable frame of ${f.length} bytes (first seq ${first})`);
    for (let i = 0; i < frame.entries.length; i++) hist.add(clockAge(frame.entries[i], now));
  }
}

async function open(cmd: Extract<ListenerCommand, { type: 'open' }>): Promise<{ opened: number; failed: number; error?: string }> {
  clock = cmd.clockLatency;
  let failed = 0;
  let error: string | undefined;
  // A few hundred handshakes at a time: the server's accept backlog is finite.
  const BATCH = 250;
  for (let i = 0; i < cmd.count; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, cmd.count - i) }, (_, j) => {
      const s: Sock = { ws: undefined as unknown as RawWs, first: -1, last: -1, gaps: 0, dups: 0, entries: 0 };
      s.ws = new RawWs({ port: cmd.port, localAddress: cmd.localAddresses[(i + j) % cmd.localAddresses.length], onBinary: (f) => onFrame(s, f) });
      return s.ws.opened.then(
        () => socks.push(s),
        (err: Error) => {
          failed++;
          error = err.message;
          s.ws.socket.destroy();
        },
      );
    });
    await Promise.all(batch);
  }
  return { opened: socks.length, failed, error };
}

function report(from: number, to: number): ListenerReport {
  let complete = 0;
  let closedEarly = 0;
  let gaps = 0;
  let dups = 0;
  let entries = 0;
  for (const s of socks) {
    gaps += s.gaps;
    dups += s.dups;
    entries += s.entries;
    if (s.ws.closed) closedEarly++;
    if (s.gaps === 0 && s.dups === 0 && s.first <= from && s.first >= 0 && s.last >= to) complete++;
  }
  return { type: 'report', sockets: socks.length, complete, closedEarly, gaps, dups, frames, entries, histogram: Array.from(hist.counts), bucketMs: BUCKET_MS };
}

process.on('message', (msg: ListenerCommand) => {
  const send = (m: unknown) => process.send!(m);
  if (msg.type === 'open') void open(msg).then((r) => send({ type: 'opened', ...r }));
  else if (msg.type === 'reset') {
    hist = new Histogram(BUCKET_MS, 20_000);
    frames = 0;
    for (const s of socks) s.entries = 0;
    send({ type: 'reset' });
  } else if (msg.type === 'report') send(report(msg.from, msg.to));
  else if (msg.type === 'close') {
    for (const s of socks) s.ws.socket.destroy();
    process.exit(0);
  }
});
// The parent's death must not leave sockets (and this process) behind.
process.on('disconnect', () => process.exit(0));
