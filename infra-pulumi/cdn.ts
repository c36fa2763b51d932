// CloudFront in front of the ALB. Behaviours, first match wins:
//   /metrics*   answered 404 at the edge by a CloudFront Function (never
//               reaches the origin; the ALB refuses it as well)
//   /api/board  cached exactly 3 s (min = default = max TTL), whatever the
//               origin says: one origin fetch per edge per 3 s, however many
//               viewers load the board
//   /api/*      not cached; every viewer header (incl. Authorization), cookie
//               and query string is forwarded
//   /ws*        same as /api/*: the upgrade handshake needs the WebSocket
//               headers, the session cookie and ?since=N
//   /assets/*   content-hashed client files: cached for a year
//   default     index.html and other top-level files: origin Cache-Control
//               decides (index.html is no-cache), no cookies forwarded
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ORIGIN_VERIFY_HEADER } from "./loadbalancer.js";

/** AWS managed policies (fixed IDs, the same in every account). */
export const MANAGED_CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
export const MANAGED_ORIGIN_REQUEST_ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3";

export const BOARD_TTL_SECONDS = 3;
const YEAR = 365 * 24 * 3600;
const DAY = 24 * 3600;

/** Viewer-request function for the /metrics* behaviour (cloudfront-js-2.0). */
export const BLOCK_FUNCTION_CODE = `function handler(event) {
  return {
    statusCode: 404,
    statusDescription: "Not Found",
    headers: { "cache-control": { value: "no-store" } },
  };
}
`;

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
}

export interface Cdn {
  distribution: aws.cloudfront.Distribution;
  boardPolicy: aws.cloudfront.CachePolicy;
  assetsPolicy: aws.cloudfront.CachePolicy;
  staticPolicy: aws.cloudfront.CachePolicy;
  blockFunction: aws.cloudfront.Function;
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
  const staticPolicy = cachePolicy(`${name}-static`, "client shell: origin Cache-Control decides", {
    min: 0,
    def: 0,
    max: DAY,
  });

  const blockFunction = new aws.cloudfront.Function(`${name}-block`, {
    runtime: "cloudfront-js-2.0",
    comment: "Answer 404 at the edge (Prometheus /metrics is internal only)",
    code: BLOCK_FUNCTION_CODE,
    publish: true,
  });

  const originId = "alb";
  const passThrough = {
    targetOriginId: originId,
    viewerProtocolPolicy: "redirect-to-https",
    cachePolicyId: MANAGED_CACHING_DISABLED,
    originRequestPolicyId: MANAGED_ORIGIN_REQUEST_ALL_VIEWER,
    compress: false,
  };
  const readOnly = ["GET", "HEAD", "OPTIONS"];
  const cached = ["GET", "HEAD"];

  const distribution = new aws.cloudfront.Distribution(`${name}`, {
    enabled: true,
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
      {
        pathPattern: "/metrics*",
        targetOriginId: originId,
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: MANAGED_CACHING_DISABLED,
        functionAssociations: [{ eventType: "viewer-request", functionArn: blockFunction.arn }],
      },
      {
        pathPattern: "/api/board",
        targetOriginId: originId,
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: boardPolicy.id,
        compress: true,
      },
      // PUT /api/pixel, POST /api/session, ...: every method.
      { pathPattern: "/api/*", allowedMethods: ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"], cachedMethods: cached, ...passThrough },
      { pathPattern: "/ws*", allowedMethods: readOnly, cachedMethods: cached, ...passThrough },
      {
        pathPattern: "/assets/*",
        targetOriginId: originId,
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: readOnly,
        cachedMethods: cached,
        cachePolicyId: assetsPolicy.id,
        compress: true,
      },
    ],
    defaultCacheBehavior: {
      targetOriginId: originId,
      viewerProtocolPolicy: "redirect-to-https",
      allowedMethods: readOnly,
      cachedMethods: cached,
      cachePolicyId: staticPolicy.id,
      compress: true,
    },
    restrictions: { geoRestriction: { restrictionType: "none" } },
    viewerCertificate: args.certificateArn
      ? { acmCertificateArn: args.certificateArn, sslSupportMethod: "sni-only", minimumProtocolVersion: "TLSv1.2_2021" }
      : { cloudfrontDefaultCertificate: true },
  });

  const url = args.domainName
    ? pulumi.output(`https://${args.domainName}`)
    : pulumi.interpolate`https://${distribution.domainName}`;

  return { distribution, boardPolicy, assetsPolicy, staticPolicy, blockFunction, url };
}
