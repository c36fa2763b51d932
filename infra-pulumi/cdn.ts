// CloudFront in front of the ALB. Behaviours, first match wins:
//   /metrics*   answered 404 at the edge by a CloudFront Function (never
//               reaches the origin; the ALB refuses it as well)
//   /api/admin* answered 403 by the same function, unless adminAllowCidrs is
//               set: then passed through like /api/*, and WAF lets only those
//               networks by (admin.ts)
//   /api/board  cached exactly 3 s (min = default = max TTL), whatever the
//               origin says: one origin fetch per edge per 3 s, however many
//               viewers load the board
//   /api/history/{keyframe,range,users}/*  time travel's blobs: the origin's
//               Cache-Control decides, up to a year (a listed keyframe is
//               immutable; a 404 is no-store); no query string in the key
//   /api/*      not cached; every viewer header (incl. Authorization), cookie
//               and query string is forwarded
//   /ws*        same as /api/*: the upgrade handshake needs the WebSocket
//               headers, the session cookie and ?since=N
//   /assets/*   content-hashed client files: cached for a year
//   default     index.html and other top-level files: origin Cache-Control
//               decides (index.html is no-cache), no cookies forwarded
// Every behaviour adds HSTS (response headers policy), and the WAF web ACL
// (waf.ts) sits in front of all of them.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ADMIN_PATH_PATTERN } from "./admin.js";
import { ORIGIN_VERIFY_HEADER } from "./loadbalancer.js";
import { CDN_LOG_PREFIX } from "./logs.js";

/** AWS managed policies (fixed IDs, the same in every account). */
export const MANAGED_CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
export const MANAGED_ORIGIN_REQUEST_ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3";

export const BOARD_TTL_SECONDS = 3;
const YEAR = 365 * 24 * 3600;
const DAY = 24 * 3600;
/** Strict-Transport-Security max-age: two years (preload lists ask for at least one). */
export const HSTS_MAX_AGE_SECONDS = 2 * YEAR;

/**
 * Viewer-request function for the /metrics* and (closed) /api/admin* behaviours
 * (cloudfront-js-2.0): 403 for admin, which exists but is not for this caller;
 * 404 for the rest.
 */
export const BLOCK_FUNCTION_CODE = `function handler(event) {
  var admin = event.request.uri.indexOf("/api/admin") === 0;
  return {
    statusCode: admin ? 403 : 404,
    statusDescription: admin ? "Forbidden" : "Not Found",
    headers: { "cache-control": { value: "no-store" } },
  };
}
`;

/** Logged by `pulumi up` when CloudFront can only reach the ALB over HTTP (no albCertificateArn). */
export const HTTP_ORIGIN_WARNING =
  "albCertificateArn is not set: CloudFront reaches the ALB over plain HTTP across the internet " +
  "(requests, session tokens and the origin-verify header unencrypted), and the ALB tells the service " +
  "X-Forwarded-Proto: http, so session cookies are set without Secure. Set albCertificateArn, " +
  'originDomainName and domainName for HTTPS to the origin (docs/deploy.md "Edge security").';

export interface CdnArgs {
  name: string;
  /** DNS name CloudFront connects to: the ALB's, or one covered by its certificate. */
  originDomainName: pulumi.Input<string>;
  originHttps: boolean;
  originVerifyToken: pulumi.Output<string>;
  priceClass: string;
  /** Custom viewer hostname and its us-east-1 ACM certificate, both or neither. */
  domainName?: string;
  certificateArn?: string;
  /** WAFv2 web ACL (scope CLOUDFRONT): CloudFront takes its ARN as webAclId. */
  webAclArn: pulumi.Input<string>;
  /** Standard-log bucket's regional domain name, and what must exist before CloudFront checks it. */
  logBucketDomainName: pulumi.Input<string>;
  logBucketReady: pulumi.Resource[];
  /** adminAllowCidrs is set: /api/admin* reaches the origin (WAF checks the address). */
  adminOpen: boolean;
}

export interface Cdn {
  distribution: aws.cloudfront.Distribution;
  boardPolicy: aws.cloudfront.CachePolicy;
  assetsPolicy: aws.cloudfront.CachePolicy;
  staticPolicy: aws.cloudfront.CachePolicy;
  blockFunction: aws.cloudfront.Function;
  securityHeaders: aws.cloudfront.ResponseHeadersPolicy;
  /** Public base URL, no trailing slash. */
  url: pulumi.Output<string>;
}

function cachePolicy(name: string, comment: string, ttl: { min: number; def: number; max: number }) {
  return new aws.cloudfront.CachePolicy(name, {
    comment,
    minTtl: ttl.min,
    defaultTtl: ttl.def,
    maxTtl: ttl.max,
    parametersInCacheKeyAndForwardedToOrigin: {
      // Nothing viewer-specific in the key: one cached copy serves everyone,
      // and random query strings or cookies cannot bust the cache.
      cookiesConfig: { cookieBehavior: "none" },
      headersConfig: { headerBehavior: "none" },
      queryStringsConfig: { queryStringBehavior: "none" },
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    },
  });
}

export function createCdn(args: CdnArgs): Cdn {
  const { name } = args;
  if (!!args.domainName !== !!args.certificateArn) {
    throw new Error("domainName and cdnCertificateArn must be set together");
  }

  const boardPolicy = cachePolicy(`${name}-board`, "GET /api/board: exactly 3 s", {
    min: BOARD_TTL_SECONDS,
    def: BOARD_TTL_SECONDS,
    max: BOARD_TTL_SECONDS,
  });
  const assetsPolicy = cachePolicy(`${name}-assets`, "/assets/*: content-hashed, immutable", {
    min: DAY,
    def: YEAR,
    max: YEAR,
  });
  // Time travel's keyframes and ranges (docs/api.md): immutable once listed, so whatever the origin says, up to a year.
  const historyPolicy = cachePolicy(`${name}-history`, "/api/history blobs: origin Cache-Control decides, up to a year", {
    min: 0,
    def: 0,
    max: YEAR,
  });
  const staticPolicy = cachePolicy(`${name}-static`, "client shell: origin Cache-Control decides", {
    min: 0,
    def: 0,
    max: DAY,
  });

  const blockFunction = new aws.cloudfront.Function(`${name}-block`, {
    runtime: "cloudfront-js-2.0",
    comment: "Answer at the edge: 404 for /metrics (internal only), 403 for a closed /api/admin",
    code: BLOCK_FUNCTION_CODE,
    publish: true,
  });

  // HSTS on every response, overriding whatever the origin says: a browser that has once loaded
  // the canvas never again tries plain HTTP for this name (and its subdomains) for two years, so
  // the session cookie cannot be stripped of TLS by a network in between.
  const securityHeaders = new aws.cloudfront.ResponseHeadersPolicy(`${name}-security`, {
    comment: "Tessera: HSTS",
    securityHeadersConfig: {
      strictTransportSecurity: {
        accessControlMaxAgeSec: HSTS_MAX_AGE_SECONDS,
        includeSubdomains: true,
        override: true,
      },
    },
  });

  const originId = "alb";
  const edge = {
    targetOriginId: originId,
    viewerProtocolPolicy: "redirect-to-https",
    responseHeadersPolicyId: securityHeaders.id,
  };
  const passThrough = {
    ...edge,
    cachePolicyId: MANAGED_CACHING_DISABLED,
    originRequestPolicyId: MANAGED_ORIGIN_REQUEST_ALL_VIEWER,
    compress: false,
  };
  const readOnly = ["GET", "HEAD", "OPTIONS"];
  const allMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
  const cached = ["GET", "HEAD"];
  const blocked = {
    ...edge,
    allowedMethods: allMethods,
    cachedMethods: cached,
    cachePolicyId: MANAGED_CACHING_DISABLED,
    functionAssociations: [{ eventType: "viewer-request", functionArn: blockFunction.arn }],
  };

  const distribution = new aws.cloudfront.Distribution(`${name}`, {
    enabled: true,
    webAclId: args.webAclArn,
    loggingConfig: { bucket: args.logBucketDomainName, prefix: CDN_LOG_PREFIX, includeCookies: false },
    comment: "Tessera",
    isIpv6Enabled: true,
    httpVersion: "http2and3",
    priceClass: args.priceClass,
    aliases: args.domainName ? [args.domainName] : undefined,
    origins: [
      {
        originId,
        domainName: args.originDomainName,
        customOriginConfig: {
          httpPort: 80,
          httpsPort: 443,
          originProtocolPolicy: args.originHttps ? "https-only" : "http-only",
          originSslProtocols: ["TLSv1.2"],
          originReadTimeout: 30,
          // Shorter than the ALB's idle timeout, so the ALB never closes a
          // connection CloudFront is about to reuse (which shows as 502s).
          originKeepaliveTimeout: 60,
        },
        // The ALB forwards only requests carrying this (see loadbalancer.ts).
        customHeaders: [{ name: ORIGIN_VERIFY_HEADER, value: args.originVerifyToken }],
      },
    ],
    orderedCacheBehaviors: [
      { pathPattern: "/metrics*", ...blocked },
      // Before /api/*, which would otherwise match it.
      args.adminOpen
        ? { pathPattern: ADMIN_PATH_PATTERN, allowedMethods: allMethods, cachedMethods: cached, ...passThrough }
        : { pathPattern: ADMIN_PATH_PATTERN, ...blocked },
      {
        pathPattern: "/api/board",
        ...edge,
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: boardPolicy.id,
        compress: true,
      },
      // Already deflate-compressed by the service; the list and the live tail stay under /api/* (not cached).
      ...["keyframe", "range", "users"].map((part) => ({
        pathPattern: `/api/history/${part}/*`,
        ...edge,
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: historyPolicy.id,
        compress: false,
      })),
      // PUT /api/pixel, POST /api/session, ...: every method.
      { pathPattern: "/api/*", allowedMethods: allMethods, cachedMethods: cached, ...passThrough },
      { pathPattern: "/ws*", allowedMethods: readOnly, cachedMethods: cached, ...passThrough },
      {
        pathPattern: "/assets/*",
        ...edge,
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: assetsPolicy.id,
        compress: true,
      },
    ],
    defaultCacheBehavior: {
      ...edge,
      allowedMethods: readOnly,
      cachedMethods: cached,
      cachePolicyId: staticPolicy.id,
      compress: true,
    },
    restrictions: { geoRestriction: { restrictionType: "none" } },
    viewerCertificate: args.certificateArn
      ? { acmCertificateArn: args.certificateArn, sslSupportMethod: "sni-only", minimumProtocolVersion: "TLSv1.2_2021" }
      : { cloudfrontDefaultCertificate: true },
  }, { dependsOn: args.logBucketReady });

  const url = args.domainName
    ? pulumi.output(`https://${args.domainName}`)
    : pulumi.interpolate`https://${distribution.domainName}`;

  return { distribution, boardPolicy, assetsPolicy, staticPolicy, blockFunction, securityHeaders, url };
}
