// The proof-of-work solver, in a Web Worker so the page stays responsive while it hashes (client/src/pow.ts
// starts it). Tries solutions 0, 1, 2, … (base 36) until SHA-256(challenge + ":" + solution) starts with
// `difficulty` zero bits, SubtleCrypto digests in parallel batches (one await per hash would be mostly overhead).

export interface PowRequest {
  challenge: string;
  difficulty: number;
}

export type PowMessage = { t: 'progress'; tries: number } | { t: 'done'; solution: string; tries: number; ms: number };

const BATCH = 256;
const PROGRESS_EVERY_MS = 100;

function zeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

async function solve({ challenge, difficulty }: PowRequest): Promise<void> {
  const started = performance.now();
  const encoder = new TextEncoder();
  let lastProgress = started;
  for (let base = 0; ; base += BATCH) {
    const digests: Promise<ArrayBuffer>[] = [];
    for (let i = 0; i < BATCH; i++) digests.push(crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${(base + i).toString(36)}`)));
    const hashes = await Promise.all(digests);
    for (let i = 0; i < BATCH; i++) {
      if (zeroBits(new Uint8Array(hashes[i])) >= difficulty) {
        post({ t: 'done', solution: (base + i).toString(36), tries: base + i + 1, ms: performance.now() - started });
        return;
      }
    }
    const now = performance.now();
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      post({ t: 'progress', tries: base + BATCH });
    }
  }
}

function post(msg: PowMessage): void {
  (self as unknown as { postMessage(m: PowMessage): void }).postMessage(msg);
}

self.onmessage = (e: MessageEvent<PowRequest>) => void solve(e.data);
