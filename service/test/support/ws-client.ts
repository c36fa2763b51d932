// A test WebSocket client that decodes frames and checks every seq arrives once, in order.
import WebSocket from 'ws';
import { decodeFrame } from '../../src/wire/frames.js';

export interface Listener {
  ws: WebSocket;
  /** every seq received, in arrival order */
  seqs: number[];
  /** the entries (pixelIndex*16+colour) of every frame that brought a new seq, in frame order */
  entries: number[];
  texts: any[];
  gaps: number;
  duplicates: number;
  closed: Promise<{ code: number; reason: string }>;
  waitForSeq(seq: number, timeoutMs?: number): Promise<void>;
  waitForText(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  send(obj: unknown): void;
  close(): void;
}

export async function listen(url: string, opts: { after?: number; headers?: Record<string, string> } = {}): Promise<Listener> {
  const ws = new WebSocket(url, { headers: opts.headers });
  const l: Listener = {
    ws,
    seqs: [],
    entries: [],
    texts: [],
    gaps: 0,
    duplicates: 0,
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    async waitForSeq(seq, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while ((l.seqs[l.seqs.length - 1] ?? opts.after ?? 0) < seq) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for seq ${seq}; last ${l.seqs[l.seqs.length - 1]}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async waitForText(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = l.texts.find(pred);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`timed out waiting for a text message; got ${JSON.stringify(l.texts)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
    close: () => ws.close(),
  };
  let last = opts.after;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      l.texts.push(JSON.parse(data.toString()));
      return;
    }
    const frame = decodeFrame(new Uint8Array(data as Buffer));
    if (!frame) throw new Error('undecodable frame');
    // A frame covers seqs first…first+count−1 as a set: the seqs are known, not which entry is whose.
    let fresh = false;
    for (let seq = frame.firstSeq; seq < frame.firstSeq + frame.count; seq++) {
      if (last !== undefined && seq <= last) l.duplicates++;
      else if (last !== undefined && seq !== last + 1) l.gaps++;
      if (last === undefined || seq > last) {
        last = seq;
        l.seqs.push(seq);
        fresh = true;
      }
    }
    if (fresh) for (const e of frame.entries) l.entries.push(e);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return l;
}
