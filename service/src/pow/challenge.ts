// Proof-of-work challenges for new sessions: stateless (signed, so any container checks any container's),
// expiring, and carrying their own difficulty. Format: "<nonce>.<expiresAtMs>.<difficulty>.<sig>", where
// sig = base64url HMAC-SHA256(key, "<nonce>.<expiresAtMs>.<difficulty>") and key is derived from SESSION_SECRET.
// A solution is any string s (≤ 32 chars) for which SHA-256(challenge + ":" + s) starts with `difficulty` zero bits.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Challenge {
  challenge: string;
  difficulty: number;
  expiresAt: number;
}

export type PowRefusal =
  | { ok: false; code: 'pow_invalid'; message: string }
  | { ok: false; code: 'pow_expired'; message: string }
  | { ok: false; code: 'pow_insufficient'; message: string };

export type PowVerdict = { ok: true; nonce: string; expiresAt: number } | PowRefusal;

const SHAPE = /^([A-Za-z0-9_-]{22})\.(\d{13})\.(\d{1,2})\.([A-Za-z0-9_-]{43})$/;
const SOLUTION = /^[\x21-\x7e]{1,32}$/;

/** A key per secret, so a challenge signature can never be mistaken for a session token's. */
function challengeKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('pow-challenge').digest();
}

export class PowChallenges {
  private readonly keys: Buffer[];

  /** @param secrets the current SESSION_SECRET first, then a previous one still accepted during rotation */
  constructor(
    secrets: Buffer[],
    readonly difficulty: number,
    private readonly ttlMs: number,
  ) {
    this.keys = secrets.map(challengeKey);
  }

  issue(nowMs = Date.now()): Challenge {
    const nonce = randomBytes(16).toString('base64url');
    const expiresAt = nowMs + this.ttlMs;
    const payload = `${nonce}.${expiresAt}.${this.difficulty}`;
    const sig = createHmac('sha256', this.keys[0]).update(payload).digest('base64url');
    return { challenge: `${payload}.${sig}`, difficulty: this.difficulty, expiresAt };
  }

  /** Checks signature, expiry, difficulty and the work itself; cheap (one HMAC per secret, one SHA-256). */
  verify(challenge: unknown, solution: unknown, nowMs = Date.now()): PowVerdict {
    if (typeof challenge !== 'string' || typeof solution !== 'string') {
      return { ok: false, code: 'pow_invalid', message: 'challenge and solution must be strings (GET /api/session/challenge)' };
    }
    const m = SHAPE.exec(challenge);
    if (!m) return { ok: false, code: 'pow_invalid', message: 'challenge is malformed; fetch a new one from GET /api/session/challenge' };
    if (!SOLUTION.test(solution)) return { ok: false, code: 'pow_invalid', message: 'solution must be 1-32 printable ASCII characters' };
    const [, nonce, exp, diff, sig] = m;
    const given = Buffer.from(sig, 'base64url');
    const payload = `${nonce}.${exp}.${diff}`;
    let signed = false;
    // Every key, no early exit: timing does not tell which secret matched.
    for (const key of this.keys) signed = timingSafeEqual(given, createHmac('sha256', key).update(payload).digest()) || signed;
    if (!signed) return { ok: false, code: 'pow_invalid', message: 'challenge was not issued by this service; fetch a new one' };
    const expiresAt = Number(exp);
    if (expiresAt <= nowMs) return { ok: false, code: 'pow_expired', message: 'challenge expired; fetch a new one from GET /api/session/challenge' };
    const difficulty = Number(diff);
    // Issued before the operators raised POW_DIFFICULTY: not enough work for today's setting.
    if (difficulty < this.difficulty) {
      return { ok: false, code: 'pow_insufficient', message: `challenge has difficulty ${difficulty}, ${this.difficulty} is required now; fetch a new one` };
    }
    if (leadingZeroBits(createHash('sha256').update(`${challenge}:${solution}`).digest()) < difficulty) {
      return { ok: false, code: 'pow_insufficient', message: `SHA-256(challenge + ":" + solution) must start with ${difficulty} zero bits` };
    }
    return { ok: true, nonce, expiresAt };
  }
}

export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Finds a solution by brute force (tests and scripts; the browser solves in client/src/pow-worker.ts). */
export function solveChallenge(challenge: string, difficulty: number): string {
  for (let i = 0; ; i++) {
    const s = i.toString(36);
    if (leadingZeroBits(createHash('sha256').update(`${challenge}:${s}`).digest()) >= difficulty) return s;
  }
}
