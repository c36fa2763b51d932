// Proof-of-work solving off the test's event loop: a worker thread per solver, so a test can play a script that
// buys sessions as fast as one core allows while its own clock and sockets stay responsive.
import { Worker } from 'node:worker_threads';

// Plain CommonJS for an eval'd worker (no TypeScript loader there); the same search as solveChallenge().
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
function zeroBits(d) {
  let bits = 0;
  for (const byte of d) {
    if (byte === 0) { bits += 8; continue; }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}
parentPort.on('message', ({ id, challenge, difficulty }) => {
  for (let i = 0; ; i++) {
    const s = i.toString(36);
    if (zeroBits(hash('sha256', challenge + ':' + s, 'buffer')) >= difficulty) return parentPort.postMessage({ id, solution: s, tries: i + 1 });
  }
});
`;

export class PowSolver {
  private readonly worker = new Worker(SOURCE, { eval: true });
  private readonly pending = new Map<number, (solution: string) => void>();
  private nextId = 0;
  /** Hashes computed so far (what the sessions cost this solver). */
  tries = 0;

  constructor() {
    this.worker.on('message', (m: { id: number; solution: string; tries: number }) => {
      this.tries += m.tries;
      this.pending.get(m.id)?.(m.solution);
      this.pending.delete(m.id);
    });
    this.worker.unref();
  }

  /** Solves in FIFO order with the others asked of this solver. */
  solve(challenge: string, difficulty: number): Promise<string> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ id, challenge, difficulty });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
