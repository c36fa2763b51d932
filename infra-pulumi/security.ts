// Security groups. Only the load balancer's listener ports are open to the
// internet; every other rule names a peer security group or an AWS-managed
// prefix list, egress included. (The provider removes AWS's default
// allow-all egress rule on creation, and we never add one back.)
//
// Rules are standalone resources rather than inline blocks because the groups
// reference each other (ALB -> tasks -> Redis), which inline rules cannot
// express without a dependency cycle.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface SecurityGroupsArgs {
  name: string;
  vpcId: pulumi.Input<string>;
  containerPort: number;
  /** Open 443 on the ALB only when an HTTPS listener exists. */
  https: boolean;
  /** Prefix lists of the DynamoDB and S3 gateway endpoints. */
  gatewayPrefixListIds: pulumi.Input<string>[];
}

export interface SecurityGroups {
  alb: aws.ec2.SecurityGroup;
  tasks: aws.ec2.SecurityGroup;
  redis: aws.ec2.SecurityGroup;
  endpoints: aws.ec2.SecurityGroup;
}

export const REDIS_PORT = 6379;

export function createSecurityGroups(args: SecurityGroupsArgs): SecurityGroups {
  const { name, vpcId, containerPort } = args;
  const group = (suffix: string, description: string) =>
    new aws.ec2.SecurityGroup(`${name}-${suffix}`, {
      vpcId,
      description,
      // The groups reference each other; without this, destroy can deadlock on
      // "has a dependent object".
      revokeRulesOnDelete: true,
      tags: { Name: `${name}-${suffix}` },
    });

  const alb = group("alb", "Tessera ALB: HTTP(S) from the internet (CloudFront), to tasks only");
  const tasks = group("tasks", "Tessera Fargate tasks: from the ALB; to Redis, VPC endpoints");
  const redis = group("redis", "Tessera Redis: 6379 from the tasks only");
  const endpoints = group("endpoints", "Tessera VPC interface endpoints: 443 from the tasks only");

  const ingress = (id: string, sg: aws.ec2.SecurityGroup, rule: Omit<aws.vpc.SecurityGroupIngressRuleArgs, "securityGroupId">) =>
    new aws.vpc.SecurityGroupIngressRule(`${name}-${id}`, { securityGroupId: sg.id, ...rule });
  const egress = (id: string, sg: aws.ec2.SecurityGroup, rule: Omit<aws.vpc.SecurityGroupEgressRuleArgs, "securityGroupId">) =>
    new aws.vpc.SecurityGroupEgressRule(`${name}-${id}`, { securityGroupId: sg.id, ...rule });
  const tcp = (port: number) => ({ ipProtocol: "tcp", fromPort: port, toPort: port });

  // The ALB must be public: CloudFront's origin-facing prefix list weighs ~55
  // rules per reference, over the default 60-rules-per-group quota for two
  // ports. Direct hits are refused at the listener instead (secret origin
  // header, see loadbalancer.ts).
  ingress("alb-http", alb, { ...tcp(80), cidrIpv4: "0.0.0.0/0", description: "HTTP from CloudFront/internet" });
  if (args.https) {
    ingress("alb-https", alb, { ...tcp(443), cidrIpv4: "0.0.0.0/0", description: "HTTPS from CloudFront/internet" });
  }
  egress("alb-to-tasks", alb, { ...tcp(containerPort), referencedSecurityGroupId: tasks.id, description: "to tasks" });

  ingress("tasks-from-alb", tasks, { ...tcp(containerPort), referencedSecurityGroupId: alb.id, description: "from ALB" });
  egress("tasks-to-redis", tasks, { ...tcp(REDIS_PORT), referencedSecurityGroupId: redis.id, description: "to Redis" });
  egress("tasks-to-endpoints", tasks, { ...tcp(443), referencedSecurityGroupId: endpoints.id, description: "to interface endpoints" });
  args.gatewayPrefixListIds.forEach((prefixListId, i) =>
    egress(`tasks-to-gateway-${i}`, tasks, { ...tcp(443), prefixListId, description: "to DynamoDB/S3 gateway endpoint" }),
  );

  ingress("redis-from-tasks", redis, { ...tcp(REDIS_PORT), referencedSecurityGroupId: tasks.id, description: "from tasks" });
  ingress("endpoints-from-tasks", endpoints, { ...tcp(443), referencedSecurityGroupId: tasks.id, description: "from tasks" });

  return { alb, tasks, redis, endpoints };
}
