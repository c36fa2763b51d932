// The network a client address belongs to: what per-network limits, bans and history records key on.
// One person usually controls a whole IPv6 /64 (and often a /48), but only one IPv4 address; /24 is the
// coarse IPv4 bucket because hosting providers hand out neighbouring addresses.
import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

export interface NetworkPrefixes {
  /** '203.0.113.7/32' or '2001:db8:1:2::/64' */
  fine: string;
  /** '203.0.113.0/24' or '2001:db8:1::/48' */
  coarse: string;
}

/**
 * Anything that does not parse shares one bucket: it is still limited (together), never an exception,
 * because the address can come from a header a client wrote.
 */
export const UNKNOWN_NETWORK = 'unknown';

export function networkPrefixes(address: string): NetworkPrefixes {
  const text = typeof address === 'string' ? address.trim() : '';
  if (isIPv4(text)) return ipv4Prefixes(text.split('.').map(Number));
  const groups = ipv6Groups(text);
  if (groups === null) return { fine: UNKNOWN_NETWORK, coarse: UNKNOWN_NETWORK };
  // ::ffff:a.b.c.d (how dual-stack sockets report IPv4 peers) is the IPv4 client a.b.c.d.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return ipv4Prefixes([groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff]);
  }
  return {
    fine: `${formatIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`,
    coarse: `${formatIPv6([...groups.slice(0, 3), 0, 0, 0, 0, 0])}/48`,
  };
}

/** HMAC-SHA256(key, prefix) as 22 base64url characters (128 bits): what sessions and history carry. */
export function prefixHash(prefix: string, key: Buffer): string {
  return createHmac('sha256', key).update(prefix).digest('base64url').slice(0, 22);
}

/** The prefix-hash key for a deployment: derived from SESSION_SECRET so every container agrees. */
export function prefixHashKey(sessionSecret: string | Buffer): Buffer {
  return createHmac('sha256', sessionSecret).update('network-prefix').digest();
}

function ipv4Prefixes(o: number[]): NetworkPrefixes {
  return { fine: `${o.join('.')}/32`, coarse: `${o[0]}.${o[1]}.${o[2]}.0/24` };
}

/** Eight 16-bit groups, or null. Accepts brackets, a zone id (fe80::1%eth0) and a dotted IPv4 tail. */
function ipv6Groups(text: string): number[] | null {
  let s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!isIPv6(s)) return null;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // Rewrite the dotted IPv4 tail as two hex groups so one parser handles both spellings.
    const o = s.slice(lastColon + 1).split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = s.includes('::') ? s.split('::') : [s, null];
  const left = parse(head);
  const right = rest === null ? [] : parse(rest);
  if (rest === null && left.length !== 8) return null;
  const groups = [...left, ...new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** RFC 5952 text: lower-case, no leading zeros, the longest run (≥ 2) of zero groups as '::'. */
function formatIPv6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
