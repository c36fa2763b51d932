// ElastiCache Redis: the canvas bitfield, the cooldown keys, the placement
// stream and the pub/sub fan-out between tasks.
//
// Cluster mode stays disabled: the service's Lua scripts touch several keys
// at once and it SUBSCRIBEs to one channel; a single shard with a replica in
// the other AZ gives automatic Multi-AZ failover without hash-tagging keys.
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
}

export interface Redis {
  group: aws.elasticache.ReplicationGroup;
  /** rediss:// (TLS) URL of the primary endpoint, for the REDIS_URL variable. */
  url: pulumi.Output<string>;
}

export function createRedis(args: RedisArgs): Redis {
  const { name } = args;
  if (args.replicas < 1) {
    throw new Error("redisReplicas must be at least 1: automatic failover needs a replica");
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
    url: pulumi.interpolate`rediss://${group.primaryEndpointAddress}:${REDIS_PORT}`,
  };
}
