// Application Load Balancer between CloudFront and the tasks.
//
// The ALB is internet-facing (CloudFront custom origins must be public), so
// the listener itself refuses anything that did not come through our
// distribution: only requests carrying the secret X-Origin-Verify header that
// CloudFront adds are forwarded. That is what makes TRUSTED_PROXY_HOPS=2
// (CloudFront + ALB) safe: nobody can reach the service with a forged
// X-Forwarded-For by skipping CloudFront. /metrics is refused here too.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

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

  const alb = new aws.lb.LoadBalancer(`${name}-alb`, {
    loadBalancerType: "application",
    internal: false,
    subnets: args.subnetIds,
    securityGroups: [args.securityGroupId],
    idleTimeout: args.idleTimeout,
    // Reject requests with malformed header names instead of passing them on.
    dropInvalidHeaderFields: true,
    enableHttp2: true,
  });

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

  const refuse = (statusCode: string, messageBody: string) => ({
    type: "fixed-response",
    fixedResponse: { contentType: "text/plain", statusCode, messageBody },
  });

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
    new aws.lb.ListenerRule(`${name}-from-cloudfront`, {
      listenerArn: originListener.arn,
      priority: 10,
      conditions: [{ httpHeader: { httpHeaderName: ORIGIN_VERIFY_HEADER, values: args.originVerifyTokens } }],
      actions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
    }),
  ];

  return { alb, targetGroup, originListener, rules };
}
