// ElastiCache Redis: the canvas bitfield, the cooldown keys, the placement
// stream and the pub/sub fan-out between tasks.
//
// Cluster mode stays disabled: the service's Lua scripts touch several keys
// at once and it SUBSCRIBEs to one channel; a single shard with a replica in
// the other AZ gives automatic Multi-AZ failover without hash-tagging keys.
//
// AUTH: a security group is the only other thing between a compromised peer in
// the VPC and the canvas, so the group also demands a token (Redis AUTH, over
// TLS). The token comes from `pulumi config set --secret redisAuthToken`: the
// program has no random generator it could keep stable across runs
// (@pulumi/random is not a dependency; a random value drawn per run would
// rotate the token on every `pulumi up`). It reaches the tasks inside
// REDIS_URL, through Secrets Manager (iam.ts), never the task definition.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { REDIS_PORT } from "./security.js";

export interface RedisArgs {
  name: string;
  nodeType: string;
  /** Read replicas besides the primary; ≥1 for automatic failover. */
  replicas: number;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  snapshotRetentionDays: number;
  authToken: pulumi.Output<string>;
  /**
   * How a token change is applied. ROTATE: the old token (or no token, on a group that had
   * none) keeps working beside the new one while the tasks roll; SET afterwards drops it.
   */
  authTokenUpdateStrategy: string;
}

export interface Redis {
  group: aws.elasticache.ReplicationGroup;
  /** rediss://:<token>@<primary endpoint>:port (TLS + AUTH), for REDIS_URL; secret. */
  url: pulumi.Output<string>;
}

/**
 * ElastiCache takes 16-128 printable characters without / " @ % and most punctuation; the token
 * also sits in REDIS_URL's userinfo. Letters, digits and '-' satisfy both without escaping.
 */
export function checkRedisAuthToken(token: string): string {
  if (!/^[A-Za-z0-9-]{32,128}$/.test(token)) {
    throw new Error("config redisAuthToken must be 32-128 of [A-Za-z0-9-] (e.g. openssl rand -hex 32)");
  }
  return token;
}

export function createRedis(args: RedisArgs): Redis {
  const { name } = args;
  if (args.replicas < 1) {
    throw new Error("redisReplicas must be at least 1: automatic failover needs a replica");
  }
  if (args.authTokenUpdateStrategy !== "ROTATE" && args.authTokenUpdateStrategy !== "SET") {
    throw new Error(`redisAuthTokenUpdateStrategy must be ROTATE or SET, got "${args.authTokenUpdateStrategy}"`);
  }

  const subnetGroup = new aws.elasticache.SubnetGroup(`${name}-redis`, {
    description: "Tessera Redis, private subnets",
    subnetIds: args.subnetIds,
  });

  // The canvas, cooldowns and the unacknowledged stream are state, not cache:
  // under memory pressure Redis must refuse writes (the service then fails
  // placements loudly) rather than silently evict a key.
  const parameterGroup = new aws.elasticache.ParameterGroup(`${name}-redis7`, {
    family: "redis7",
    description: "Tessera: never evict",
    parameters: [{ name: "maxmemory-policy", value: "noeviction" }],
  });

  const group = new aws.elasticache.ReplicationGroup(`${name}-redis`, {
    description: "Tessera canvas state and fan-out",
    engine: "redis",
    engineVersion: "7.1",
    nodeType: args.nodeType,
    port: REDIS_PORT,
    numCacheClusters: 1 + args.replicas,
    automaticFailoverEnabled: true,
    multiAzEnabled: true,
    // TLS on the wire (the service connects with rediss://) and encrypted
    // snapshots/swap at rest.
    transitEncryptionEnabled: true,
    transitEncryptionMode: "required",
    // The provider applies token changes at once (ApplyImmediately), whatever applyImmediately says.
    authToken: args.authToken,
    authTokenUpdateStrategy: args.authTokenUpdateStrategy,
    atRestEncryptionEnabled: true,
    parameterGroupName: parameterGroup.name,
    subnetGroupName: subnetGroup.name,
    securityGroupIds: [args.securityGroupId],
    snapshotRetentionLimit: args.snapshotRetentionDays,
    autoMinorVersionUpgrade: true,
    // Node type or version changes wait for the maintenance window instead of
    // failing over in the middle of the day.
    applyImmediately: false,
  });

  return {
    group,
    // ioredis reads the password from the URL's userinfo; the token's alphabet needs no escaping.
    url: pulumi.secret(pulumi.interpolate`rediss://:${args.authToken}@${group.primaryEndpointAddress}:${REDIS_PORT}`),
  };
}
