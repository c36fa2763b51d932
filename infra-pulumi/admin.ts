// Who may reach /api/admin/* (bans, rollbacks, the moderation log) from the internet: nobody,
// unless adminAllowCidrs lists the operators' networks.
//
// The viewer's address is known only at the edge: the ALB sees CloudFront's addresses, so an ALB
// source-ip condition could never match an operator. The allow-list is therefore checked by WAF on
// the distribution, which marks each admin request it lets through with a header derived from the
// origin-verify secret; the ALB forwards /api/admin* only with that mark. Either layer alone keeps
// admin closed: a CloudFront behaviour, WAF and the ALB each refuse it when nothing is allowed.
import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import * as pulumi from "@pulumi/pulumi";

/** What WAF matches (URI path, after decoding and normalising). */
export const ADMIN_PATH_PREFIX = "/api/admin";
/** CloudFront and ALB path pattern: /api/admin itself and everything under it. */
export const ADMIN_PATH_PATTERN = "/api/admin*";
/** The name WAF inserts; it prefixes inserted request headers with x-amzn-waf-. */
export const ADMIN_MARK_NAME = "tessera-admin";
export const ADMIN_MARK_HEADER = `x-amzn-waf-${ADMIN_MARK_NAME}`;

export interface AdminCidrs {
  ipv4: string[];
  ipv6: string[];
}

const fail = (entry: string, why: string): never => {
  throw new Error(`config adminAllowCidrs: "${entry}" ${why}`);
};

function ipv4Bits(addr: string): bigint {
  return addr.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** 128-bit value of an address node:net already accepted as IPv6 ("::", embedded IPv4 and all). */
function ipv6Bits(addr: string): bigint {
  const groups = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [parseInt(g, 16)];
          const v4 = Number(ipv4Bits(g));
          return [v4 >>> 16, v4 & 0xffff];
        });
  const [head, tail] = addr.split("::");
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/**
 * Comma- or space-separated IPv4/IPv6 CIDRs, split by family (WAF IP sets hold one family each).
 * Unset or blank: admin stays closed. /0 and host bits are refused: WAF rejects the second, and
 * the first would open admin to everyone, which is never what a typo meant.
 */
export function parseAdminCidrs(value: string | undefined): AdminCidrs {
  const out: AdminCidrs = { ipv4: [], ipv6: [] };
  for (const entry of (value ?? "").split(/[\s,]+/).filter(Boolean)) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(entry);
    if (!m) fail(entry, "is not a CIDR (address/prefix, e.g. 203.0.113.0/24 or 2001:db8::/48)");
    const [, addr, prefixText] = m!;
    const prefix = Number(prefixText);
    const v4 = isIPv4(addr);
    if (!v4 && !isIPv6(addr)) fail(entry, "is not an IPv4 or IPv6 address with a prefix");
    const width = v4 ? 32 : 128;
    if (prefix > width) fail(entry, `has a prefix over /${width}`);
    if (prefix === 0) fail(entry, "would allow every address; list the operators' networks instead");
    const bits = v4 ? ipv4Bits(addr) : ipv6Bits(addr);
    if ((bits & ((1n << BigInt(width - prefix)) - 1n)) !== 0n) {
      fail(entry, "has host bits set: give the network's first address (e.g. 203.0.113.0/24, not 203.0.113.7/24)");
    }
    (v4 ? out.ipv4 : out.ipv6).push(entry);
  }
  return out;
}

export const adminOpen = (cidrs: AdminCidrs): boolean => cidrs.ipv4.length + cidrs.ipv6.length > 0;

/**
 * The value WAF inserts on allowed admin requests and the ALB demands. Derived from an
 * origin-verify token, so nobody who lacks it can forge the mark, and it rotates with it.
 */
export function adminMark(originVerifyToken: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.secret(originVerifyToken.apply((t) => createHash("sha256").update(`tessera-admin:${t}`).digest("hex")));
}
