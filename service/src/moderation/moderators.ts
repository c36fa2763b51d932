// Named moderator credentials. Only SHA-256 hashes of the tokens are kept; a request names itself with
// X-Moderator (optional) and proves it with X-Admin-Token. ADMIN_TOKEN still works: a moderator named "admin".
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

export interface Moderator {
  name: string;
  /** SHA-256 of the token. */
  hash: Buffer;
}

export const LEGACY_MODERATOR = 'admin';
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX = /^[0-9a-f]{64}$/i;

export class ModeratorsError extends Error {}

export const tokenHash = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * MODERATORS: `name:<sha256 hex>` entries separated by commas or newlines, or the path of a file holding
 * them (lines starting with # are comments). ADMIN_TOKEN, when set, adds a moderator named "admin".
 */
export function parseModerators(raw: string | undefined, adminToken: string | undefined): Moderator[] {
  const out: Moderator[] = [];
  let text = raw?.trim() ?? '';
  if (text && !text.includes(':')) {
    if (!existsSync(text)) throw new ModeratorsError(`MODERATORS is neither name:hash entries nor a readable file: ${text}`);
    text = readFileSync(text, 'utf8');
  }
  for (const line of text.split(/[,\n]/)) {
    const entry = line.trim();
    if (!entry || entry.startsWith('#')) continue;
    const [name, hex, ...rest] = entry.split(':');
    if (rest.length || !NAME.test(name ?? '') || !HEX.test(hex ?? '')) {
      throw new ModeratorsError(`MODERATORS entry "${entry.slice(0, 80)}" must be name:<sha256 of the token, 64 hex digits>`);
    }
    if (out.some((m) => m.name === name)) throw new ModeratorsError(`MODERATORS names "${name}" twice`);
    out.push({ name, hash: Buffer.from(hex, 'hex') });
  }
  if (adminToken) {
    if (out.some((m) => m.name === LEGACY_MODERATOR)) throw new ModeratorsError('MODERATORS names "admin", which ADMIN_TOKEN already is');
    out.push({ name: LEGACY_MODERATOR, hash: tokenHash(adminToken) });
  }
  return out;
}

/**
 * The moderator the token belongs to, or undefined. Every candidate is compared in constant time, and all of
 * them are compared whatever matched, so the timing tells nothing about which name or how much matched.
 */
export function authenticate(moderators: readonly Moderator[], claimed: string | undefined, token: string | undefined): string | undefined {
  if (!token) return undefined;
  const given = tokenHash(token);
  let found: string | undefined;
  for (const m of moderators) {
    const same = timingSafeEqual(given, m.hash);
    if (same && !found && (!claimed || claimed === m.name)) found = m.name;
  }
  return found;
}
