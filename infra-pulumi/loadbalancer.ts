// Application Load Balancer between CloudFront and the tasks.
//
// The ALB is internet-facing (CloudFront custom origins must be public), so
// the listener itself refuses anything that did not come through our
// distribution: only requests carrying the secret X-Origin-Verify header that
// CloudFront adds are forwarded. That is what makes TRUSTED_PROXY_HOPS=2
// (CloudFront + ALB) safe: nobody can reach the service with a forged
// X-Forwarded-For by skipping CloudFront. /metrics is refused here too, and so
// is /api/admin* unless WAF marked the request as coming from an allowed
// network (admin.ts).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ADMIN_MARK_HEADER, ADMIN_PATH_PATTERN } from "./admin.js";
import { ALB_LOG_PREFIX } from "./logs.js";

export const ORIGIN_VERIFY_HEADER = "X-Origin-Verify";

export interface LoadBalancerArgs {
  name: string;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  containerPort: number;
  /** Seconds; WebSockets idle longer than this are cut by the ALB. */
  idleTimeout: number;
  /** Seconds the ALB keeps sending to a draining target's open connections. */
  deregistrationDelay: number;
  /** Regional ACM certificate; enables the HTTPS listener. */
  certificateArn?: string;
  /** Accepted X-Origin-Verify values (current and, while rotating, previous). */
  originVerifyTokens: pulumi.Output<string>[];
  /** Accepted admin marks (one per origin token); none: /api/admin* is refused outright. */
  adminMarks: pulumi.Output<string>[];
  /** Access-log bucket, and what must exist before the ALB tests that it may write there. */
  accessLogBucket: pulumi.Input<string>;
  accessLogReady: pulumi.Resource[];
}

export interface LoadBalancer {
  alb: aws.lb.LoadBalancer;
  targetGroup: aws.lb.TargetGroup;
  /** The listener CloudFront talks to (HTTPS if configured, else HTTP). */
  originListener: aws.lb.Listener;
  /** Rules the ECS service must wait for (target group attached to the ALB). */
  rules: aws.lb.ListenerRule[];
}

export function createLoadBalancer(args: LoadBalancerArgs): LoadBalancer {
  const { name } = args;

  const alb = new aws.lb.LoadBalancer(
    `${name}-alb`,
    {
      loadBalancerType: "application",
      internal: false,
      subnets: args.subnetIds,
      securityGroups: [args.securityGroupId],
      idleTimeout: args.idleTimeout,
      // Reject requests with malformed header names instead of passing them on.
      dropInvalidHeaderFields: true,
      enableHttp2: true,
      accessLogs: { bucket: args.accessLogBucket, prefix: ALB_LOG_PREFIX, enabled: true },
    },
    { dependsOn: args.accessLogReady },
  );

  const targetGroup = new aws.lb.TargetGroup(`${name}-tasks`, {
    vpcId: args.vpcId,
    targetType: "ip", // Fargate awsvpc tasks register by ENI address
    port: args.containerPort,
    protocol: "HTTP",
    // On SIGTERM the service fails /readyz at once and stops listening ~2 s
    // later; 15 s lets the ALB notice and finish in-flight requests, while the
    // service closes its WebSockets with 1001 so clients reconnect elsewhere.
    deregistrationDelay: args.deregistrationDelay,
    healthCheck: {
      path: "/readyz", // 200 only while Redis is reachable and subscribed
      matcher: "200",
      interval: 10,
      timeout: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    },
  });

  const refuse = (statusCode: string, messageBody: string, contentType = "text/plain") => ({
    type: "fixed-response",
    fixedResponse: { contentType, statusCode, messageBody },
  });
  const fromCloudFront = { httpHeader: { httpHeaderName: ORIGIN_VERIFY_HEADER, values: args.originVerifyTokens } };

  let originListener: aws.lb.Listener;
  if (args.certificateArn) {
    originListener = new aws.lb.Listener(`${name}-https`, {
      loadBalancerArn: alb.arn,
      port: 443,
      protocol: "HTTPS",
      certificateArn: args.certificateArn,
      sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      defaultActions: [refuse("403", "direct access not allowed")],
    });
    new aws.lb.Listener(`${name}-http`, {
      loadBalancerArn: alb.arn,
      port: 80,
      protocol: "HTTP",
      defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
    });
  } else {
    originListener = new aws.lb.Listener(`${name}-http`, {
      loadBalancerArn: alb.arn,
      port: 80,
      protocol: "HTTP",
      defaultActions: [refuse("403", "direct access not allowed")],
    });
  }

  const rules = [
    // Lowest number wins: /metrics is refused even with a valid origin header.
    new aws.lb.ListenerRule(`${name}-block-metrics`, {
      listenerArn: originListener.arn,
      priority: 1,
      // ALB path patterns see the path only (no query string); "*" covers
      // /metrics, /metrics/ and any suffix.
      conditions: [{ pathPattern: { values: ["/metrics*"] } }],
      actions: [refuse("404", "not found")],
    }),
    // Admin: forwarded only with CloudFront's header and WAF's mark (5 condition values at most:
    // the path, up to two tokens, up to two marks); refused otherwise, before the general forward.
    ...(args.adminMarks.length > 0
      ? [
          new aws.lb.ListenerRule(`${name}-admin-allowed`, {
            listenerArn: originListener.arn,
            priority: 2,
            conditions: [
              { pathPattern: { values: [ADMIN_PATH_PATTERN] } },
              fromCloudFront,
              { httpHeader: { httpHeaderName: ADMIN_MARK_HEADER, values: args.adminMarks } },
            ],
            actions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
          }),
        ]
      : []),
    new aws.lb.ListenerRule(`${name}-block-admin`, {
      listenerArn: originListener.arn,
      priority: 3,
      conditions: [{ pathPattern: { values: [ADMIN_PATH_PATTERN] } }],
      actions: [refuse("403", JSON.stringify({ error: "forbidden", message: "admin is not reachable from this address" }), "application/json")],
    }),
    new aws.lb.ListenerRule(`${name}-from-cloudfront`, {
      listenerArn: originListener.arn,
      priority: 10,
      conditions: [fromCloudFront],
      actions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
    }),
  ];

  return { alb, targetGroup, originListener, rules };
}
