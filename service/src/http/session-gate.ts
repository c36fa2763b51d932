// What a new session costs before POST /api/session mints it: a solved proof-of-work challenge
// (POW_DIFFICULTY > 0) and, when configured, a captcha the provider accepts. GET /api/session/challenge hands
// out challenges. With POW_DIFFICULTY=0 and no captcha the gate is open and the body is not even read.
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { tokenFrom } from '../auth/token.js';
import type { Context } from '../context.js';
import { PowChallenges } from '../pow/challenge.js';
import { LocalUsedChallenges, RedisUsedChallenges, type UsedChallenges } from '../pow/used-challenges.js';
import { RedisStore } from '../store/redis.js';
import { ApiError } from '../wire/errors.js';
import { verifyCaptcha } from './captcha.js';
import { admit } from './admit.js';
import { readBody, sendJson, type Reply } from './respond.js';

const BODY_LIMIT = 4096; // captcha tokens run to ~2 KB

interface GateBody {
  challenge?: unknown;
  solution?: unknown;
  captchaToken?: unknown;
}

export class SessionGate {
  private readonly pow: PowChallenges;
  private readonly used: UsedChallenges;

  constructor(private readonly ctx: Context) {
    const c = ctx.config;
    this.pow = new PowChallenges([c.sessionSecret, ...(c.sessionSecretPrevious ? [c.sessionSecretPrevious] : [])], c.powDifficulty, c.powTtlS * 1000);
    // The same hash tag as the canvas's other keys (store/redis.ts).
    this.used = ctx.store instanceof RedisStore ? new RedisUsedChallenges(ctx.store.redis, `{tessera:${c.canvasId}}:pow:`) : new LocalUsedChallenges();
  }

  /** Whether a new session needs a body at all. */
  get open(): boolean {
    return this.ctx.config.powDifficulty === 0 && !this.ctx.config.captcha;
  }

  registerChallenge(app: TemplatedApp): void {
    app.get('/api/session/challenge', (res, req) => {
      const a = admit(this.ctx, res, req);
      if (!a) return;
      const c = this.ctx.config;
      // A visitor whose cookie already holds a session gets it back from a plain POST: no work to do.
      const session = this.ctx.tokens.verify(tokenFrom(req.getHeader('authorization'), req.getHeader('cookie'))) !== null;
      // Difficulty 0: nothing to solve, said explicitly so a client can skip the worker.
      const challenge = c.powDifficulty > 0 ? this.pow.issue() : { challenge: null, difficulty: 0, expiresAt: null };
      sendJson(a.reply, 200, { ...challenge, captcha: c.captcha !== undefined, session });
    });
  }

  /**
   * Resolves when the request paid for a new session; rejects with an ApiError saying what is missing or wrong.
   * Must be called synchronously in the handler (it starts reading the body).
   */
  pass(reply: Reply, req: HttpRequest, address: string): Promise<void> {
    if (this.open) return Promise.resolve();
    const body = readBody(reply, req, BODY_LIMIT);
    return body.then((raw) => this.check(parse(raw), address));
  }

  private async check(body: GateBody, address: string): Promise<void> {
    const { config, metrics } = this.ctx;
    const refuse = (err: ApiError): never => {
      metrics.rejections.inc({ reason: err.code });
      throw err;
    };
    if (config.powDifficulty > 0) {
      if (body.challenge === undefined && body.solution === undefined) {
        refuse(new ApiError('pow_required', 'a new session needs a solved challenge: GET /api/session/challenge, then POST {challenge, solution}', { difficulty: config.powDifficulty }));
      }
      const verdict = this.pow.verify(body.challenge, body.solution);
      if (!verdict.ok) return refuse(new ApiError(verdict.code, verdict.message));
      // Claimed before the captcha: a replayed challenge never costs us a siteverify call.
      if (!(await this.used.claim(verdict.nonce, verdict.expiresAt))) refuse(new ApiError('pow_reused', 'this challenge already bought a session; fetch a new one'));
    }
    if (config.captcha) {
      if (typeof body.captchaToken !== 'string' || body.captchaToken === '' || body.captchaToken.length > 2048) {
        refuse(new ApiError('captcha_required', 'a new session needs captchaToken (1-2048 characters) from the captcha widget'));
      }
      await verifyCaptcha(config.captcha, body.captchaToken as string, address).catch((err: unknown) => refuse(err as ApiError));
    }
  }
}

function parse(raw: Buffer): GateBody {
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('invalid_request', 'body must be JSON: {challenge, solution[, captchaToken]}');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError('invalid_request', 'body must be a JSON object: {challenge, solution[, captchaToken]}');
  return v as GateBody;
}
