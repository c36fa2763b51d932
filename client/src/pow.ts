// The proof-of-work a new session costs (docs/api.md): solved in a Web Worker (pow-worker.ts, bundled as its
// own hashed asset by client/build.mjs, which defines its URL here), with progress for the page to show.
import type { PowMessage, PowRequest } from './pow-worker.js';

declare const __POW_WORKER_URL__: string;

export interface PowChallenge {
  challenge: string;
  difficulty: number;
  expiresAt: number;
}

/**
 * Progress as a percentage: the chance that a solution would have turned up within this many tries
 * (1 − e^(−tries / 2^difficulty)), capped at 99 until one has.
 */
export function powPercent(tries: number, difficulty: number): number {
  return Math.min(99, Math.floor(100 * (1 - Math.exp(-tries / 2 ** difficulty))));
}

/** Resolves with a solution; `onProgress` gets 0…99 while the worker hashes, then 100. */
export function solvePow(c: PowChallenge, onProgress: (percent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__POW_WORKER_URL__);
    worker.onmessage = (e: MessageEvent<PowMessage>) => {
      const m = e.data;
      if (m.t === 'progress') return onProgress(powPercent(m.tries, c.difficulty));
      worker.terminate();
      onProgress(100);
      console.info(`tessera: session challenge (difficulty ${c.difficulty}) solved in ${Math.round(m.ms)} ms, ${m.tries} hashes`);
      resolve(m.solution);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`proof-of-work worker failed: ${e.message}`));
    };
    onProgress(0);
    worker.postMessage({ challenge: c.challenge, difficulty: c.difficulty } satisfies PowRequest);
  });
}
