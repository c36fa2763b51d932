// Where the operators' live controls are kept: one Redis hash for the whole fleet, or a file under DATA_DIR.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { PALETTE } from '../wire/palette.js';
import { writeFileAtomicSync } from './atomic-file.js';

export const MAX_COOLDOWN_MS = 86_400_000;

/** What a moderator sets. cooldownMs null: no override (COOLDOWN_MS, or the automatic cooldown, applies). */
export interface ControlSettings {
  cooldownMs: number | null;
  frozen: boolean;
  onlyColor: number | null;
}

export interface StoredControls extends ControlSettings {
  /** Goes up by one with every change; 0 = never changed (or the store lost them). */
  version: number;
  /** Epoch ms of the last change, 0 = never. */
  updatedAt: number;
}

export type ControlsPatch = Partial<ControlSettings>;

export const NO_CONTROLS: StoredControls = { cooldownMs: null, frozen: false, onlyColor: null, version: 0, updatedAt: 0 };

export interface ControlsStore {
  /** The stored controls (NO_CONTROLS when none were ever set); throws when the store cannot be reached. */
  read(): Promise<StoredControls>;
  /** Applies a patch atomically (a concurrent change is never lost); the controls before and after it. */
  update(patch: ControlsPatch, now: number): Promise<{ before: StoredControls; after: StoredControls }>;
}

export class ControlsFileError extends Error {
  readonly code = 'controls_invalid';
}

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Reads stored values defensively: a field that is not valid is treated as not set. */
function fromFields(f: Record<string, unknown>): StoredControls {
  const num = (v: unknown) => (typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v);
  const cooldownMs = num(f.cooldownMs);
  const onlyColor = num(f.onlyColor);
  const version = num(f.version);
  const updatedAt = num(f.updatedAt);
  return {
    cooldownMs: isInt(cooldownMs, 0, MAX_COOLDOWN_MS) ? cooldownMs : null,
    frozen: f.frozen === true || f.frozen === '1',
    onlyColor: isInt(onlyColor, 0, PALETTE.length - 1) ? onlyColor : null,
    version: isInt(version, 0, Number.MAX_SAFE_INTEGER) ? version : 0,
    updatedAt: isInt(updatedAt, 0, Number.MAX_SAFE_INTEGER) ? updatedAt : 0,
  };
}

const pairs = (flat: string[]): Record<string, string> => Object.fromEntries(flat.flatMap((_, i) => (i % 2 ? [] : [[flat[i], flat[i + 1]]])));

// Unset fields are deleted rather than written as defaults, so a redeploy with another COOLDOWN_MS still
// takes effect wherever no moderator chose a cooldown.
const UPDATE_LUA = `
local before = redis.call('HGETALL', KEYS[1])
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
return {before, redis.call('HGETALL', KEYS[1])}`;

/** One hash under the canvas's hash tag; every container polls it. */
export class RedisControlsStore implements ControlsStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async read(): Promise<StoredControls> {
    return fromFields(await this.redis.hgetall(this.key));
  }

  async update(patch: ControlsPatch, now: number): Promise<{ before: StoredControls; after: StoredControls }> {
    const args: (string | number)[] = [now];
    if (patch.cooldownMs !== undefined) args.push('cooldownMs', patch.cooldownMs ?? '');
    if (patch.frozen !== undefined) args.push('frozen', patch.frozen ? '1' : '');
    if (patch.onlyColor !== undefined) args.push('onlyColor', patch.onlyColor ?? '');
    const [before, after] = (await this.redis.eval(UPDATE_LUA, 1, this.key, ...args)) as [string[], string[]];
    return { before: fromFields(pairs(before)), after: fromFields(pairs(after)) };
  }
}

/** Embedded mode: DATA_DIR/controls.json, replaced atomically, so a restart keeps the controls. */
export class FileControlsStore implements ControlsStore {
  readonly path: string;
  private current: StoredControls;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'controls.json');
    this.current = NO_CONTROLS;
    if (!existsSync(this.path)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      // Written atomically, so this is an edit or a bad disk: guessing could unfreeze a frozen canvas.
      throw new ControlsFileError(`${this.path} is not valid JSON (${(err as Error).message}); fix it or delete it to reset the controls`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new ControlsFileError(`${this.path} must hold a JSON object; fix it or delete it`);
    this.current = fromFields(parsed as Record<string, unknown>);
  }

  /** Synchronously, for the embedded store's start (it restores cooldowns with the live length). */
  get stored(): StoredControls {
    return this.current;
  }

  async read(): Promise<StoredControls> {
    return this.current;
  }

  async update(patch: ControlsPatch, now: number): Promise<{ before: StoredControls; after: StoredControls }> {
    const before = this.current;
    const after: StoredControls = { ...before, ...patch, version: before.version + 1, updatedAt: now };
    writeFileAtomicSync(this.path, Buffer.from(JSON.stringify(after) + '\n'));
    this.current = after;
    return { before, after };
  }
}
