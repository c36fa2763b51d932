// AWS WAF on the CloudFront distribution: per-address rate limits on the paths a bot hammers, AWS's
// managed rule groups, and the admin allow-list (admin.ts). Rules in evaluation order:
//
//   admin-allow-ipv4/6  /api/admin* from an adminAllowCidrs address: count, label, insert the mark
//   admin-deny          /api/admin* without that label: 403 (so always, without an allow-list)
//   ip-reputation       AWSManagedRulesAmazonIpReputationList (known botnets, scanners)
//   rate-session        POST /api/session: new sessions per address per 5 min (not the challenge GET)
//   rate-pixel          /api/pixel: placements and pixel-history reads per address per 5 min
//   rate-ws             /ws: WebSocket upgrades per address per 5 min
//   common              AWSManagedRulesCommonRuleSet, every rule blocking. Its body-size rule
//                       (SizeRestrictions_BODY, > 8 KB) cannot hit a normal request: the API's bodies
//                       are under 1 KiB, and the service answers 413 above that anyway.
//
// The rate rules back up the service's own per-address limits (RATE_LIMIT_*) at the edge, where a
// flood costs neither an ALB LCU nor a task's CPU. They count per viewer address as CloudFront
// sees it: many players behind one NAT share a budget, hence defaults well above one player's needs.
// CloudFront-scoped WAF resources must be created in us-east-1: the provider's per-resource
// `region` does that with the stack's own credentials and tags, whatever aws:region is.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ADMIN_MARK_NAME, ADMIN_PATH_PREFIX, type AdminCidrs } from "./admin.js";

export const WAF_REGION = "us-east-1";
export const RATE_WINDOW_SECONDS = 300;
export const ADMIN_ALLOWED_LABEL = "tessera:admin-allowed";

/** Requests per viewer address per RATE_WINDOW_SECONDS (WAF accepts 10 to 2e9). */
export interface RateLimits {
  session: number;
  pixel: number;
  ws: number;
}

/** Path prefix each limit applies to. */
export const RATE_LIMITED_PATHS: Record<keyof RateLimits, string> = {
  session: "/api/session",
  pixel: "/api/pixel",
  ws: "/ws",
};

/** The method a limit counts, where only one is costly: a session costs one GET of its challenge plus one POST. */
export const RATE_LIMITED_METHODS: Partial<Record<keyof RateLimits, string>> = {
  session: "POST",
};

export const MANAGED_RULE_GROUPS = {
  ipReputation: "AWSManagedRulesAmazonIpReputationList",
  common: "AWSManagedRulesCommonRuleSet",
} as const;

export interface WafArgs {
  name: string;
  limits: RateLimits;
  adminCidrs: AdminCidrs;
  /** Header value marking an allowed admin request (admin.ts adminMark). */
  adminMark: pulumi.Output<string>;
}

export interface Waf {
  webAcl: aws.wafv2.WebAcl;
  ipSets: aws.wafv2.IpSet[];
}

/** The service's error shape (docs/api.md), for the answers WAF gives itself. */
const RESPONSE_BODIES = [
  {
    key: "rate_limited",
    contentType: "APPLICATION_JSON",
    content: JSON.stringify({ error: "rate_limited", message: "too many requests from this address; retry in a few minutes" }),
  },
  {
    key: "forbidden",
    contentType: "APPLICATION_JSON",
    content: JSON.stringify({ error: "forbidden", message: "admin is not reachable from this address" }),
  },
];

/** URI path starting with `prefix`, after undoing %-encoding and //, /./ tricks. */
const pathStartsWith = (prefix: string) => ({
  byteMatchStatement: {
    fieldToMatch: { uriPath: {} },
    positionalConstraint: "STARTS_WITH",
    searchString: prefix,
    textTransformations: [
      { priority: 0, type: "URL_DECODE" },
      { priority: 1, type: "NORMALIZE_PATH" },
    ],
  },
});

const methodIs = (method: string) => ({
  byteMatchStatement: {
    fieldToMatch: { method: {} },
    positionalConstraint: "EXACTLY",
    searchString: method,
    textTransformations: [{ priority: 0, type: "NONE" }],
  },
});

export function createWaf(args: WafArgs): Waf {
  const { name } = args;
  for (const [key, limit] of Object.entries(args.limits)) {
    if (!Number.isInteger(limit) || limit < 10 || limit > 2e9) {
      throw new Error(`WAF rate limit for ${key} must be a whole number from 10 to 2,000,000,000, got ${limit}`);
    }
  }
  const visibility = (metric: string) => ({
    cloudwatchMetricsEnabled: true,
    sampledRequestsEnabled: true,
    metricName: `${name}-${metric}`,
  });

  const ipSets: aws.wafv2.IpSet[] = [];
  const rules: aws.types.input.wafv2.WebAclRule[] = [];
  const add = (rule: Omit<aws.types.input.wafv2.WebAclRule, "priority" | "visibilityConfig"> & { name: string }) =>
    rules.push({ ...rule, priority: rules.length, visibilityConfig: visibility(rule.name) });

  for (const [version, addresses] of [["IPV4", args.adminCidrs.ipv4], ["IPV6", args.adminCidrs.ipv6]] as const) {
    if (addresses.length === 0) continue;
    const family = version.toLowerCase();
    const ipSet = new aws.wafv2.IpSet(`${name}-admin-${family}`, {
      region: WAF_REGION,
      scope: "CLOUDFRONT",
      ipAddressVersion: version,
      addresses,
      description: "Tessera: networks allowed to reach /api/admin (adminAllowCidrs)",
    });
    ipSets.push(ipSet);
    add({
      name: `admin-allow-${family}`,
      // Count, not allow: the request still goes through the rate limits and managed rules.
      action: { count: { customRequestHandling: { insertHeaders: [{ name: ADMIN_MARK_NAME, value: args.adminMark }] } } },
      ruleLabels: [{ name: ADMIN_ALLOWED_LABEL }],
      statement: { andStatement: { statements: [pathStartsWith(ADMIN_PATH_PREFIX), { ipSetReferenceStatement: { arn: ipSet.arn } }] } },
    });
  }
  add({
    name: "admin-deny",
    action: { block: { customResponse: { responseCode: 403, customResponseBodyKey: "forbidden" } } },
    statement: {
      andStatement: {
        statements: [
          pathStartsWith(ADMIN_PATH_PREFIX),
          { notStatement: { statement: { labelMatchStatement: { scope: "LABEL", key: ADMIN_ALLOWED_LABEL } } } },
        ],
      },
    },
  });

  const managed = (ruleName: string, group: string) =>
    add({
      name: ruleName,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: "AWS", name: group } },
    });
  managed("ip-reputation", MANAGED_RULE_GROUPS.ipReputation);

  for (const key of Object.keys(RATE_LIMITED_PATHS) as (keyof RateLimits)[]) {
    add({
      name: `rate-${key}`,
      action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: "rate_limited" } } },
      statement: {
        rateBasedStatement: {
          limit: args.limits[key],
          aggregateKeyType: "IP",
          evaluationWindowSec: RATE_WINDOW_SECONDS,
          scopeDownStatement: RATE_LIMITED_METHODS[key]
            ? { andStatement: { statements: [pathStartsWith(RATE_LIMITED_PATHS[key]), methodIs(RATE_LIMITED_METHODS[key]!)] } }
            : pathStartsWith(RATE_LIMITED_PATHS[key]),
        },
      },
    });
  }
  managed("common", MANAGED_RULE_GROUPS.common);

  const webAcl = new aws.wafv2.WebAcl(`${name}-edge`, {
    region: WAF_REGION,
    scope: "CLOUDFRONT",
    description: "Tessera edge: rate limits, AWS managed rules, admin allow-list",
    defaultAction: { allow: {} },
    customResponseBodies: RESPONSE_BODIES,
    rules,
    visibilityConfig: visibility("edge"),
  });
  return { webAcl, ipSets };
}
