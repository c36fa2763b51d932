// What the dashboard and the alarms watch: the metric dimensions of the resources this program
// created, resolved from their outputs (so a renamed or replaced resource is followed, never guessed).
import * as pulumi from "@pulumi/pulumi";
import { TASK_DYNAMODB_ACTIONS } from "./iam.js";

/** The service's own metrics (EMF lines on stdout; names in service/src/emf.ts, EMF_METRIC_NAMES). */
export const TESSERA_NAMESPACE = "Tessera";

/** CloudFront publishes its metrics in us-east-1 only, under the dimension Region=Global. */
export const CLOUDFRONT_METRICS_REGION = "us-east-1";

/** The data-plane calls the task makes (iam.ts); DynamoDB's ThrottledRequests has one series per operation. */
export const DYNAMODB_OPERATIONS = TASK_DYNAMODB_ACTIONS.map((a) => a.replace(/^dynamodb:/, "")).filter((op) => op !== "DescribeTable");

export interface WatchedArgs {
  region: pulumi.Input<string>;
  /** CANVAS_ID of the tasks: the `Canvas` dimension of every Tessera metric. */
  canvasId: string;
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  /** `app/<name>/<id>`: the ALB's `LoadBalancer` dimension. */
  albArnSuffix: pulumi.Input<string>;
  /** `targetgroup/<name>/<id>`: the `TargetGroup` dimension. */
  targetGroupArnSuffix: pulumi.Input<string>;
  /** The replication group's member clusters: ElastiCache reports per node, as `CacheClusterId`. */
  cacheClusterIds: pulumi.Input<string[]>;
  tableName: pulumi.Input<string>;
  tableIndexNames: readonly string[];
  distributionId: pulumi.Input<string>;
}

/** The same, with every output resolved (what goes into the dashboard's JSON). */
export interface Watched {
  region: string;
  canvasId: string;
  clusterName: string;
  serviceName: string;
  albArnSuffix: string;
  targetGroupArnSuffix: string;
  cacheClusterIds: string[];
  tableName: string;
  tableIndexNames: readonly string[];
  distributionId: string;
}

export function resolveWatched(args: WatchedArgs): pulumi.Output<Watched> {
  return pulumi
    .all([
      args.region,
      args.clusterName,
      args.serviceName,
      args.albArnSuffix,
      args.targetGroupArnSuffix,
      args.cacheClusterIds,
      args.tableName,
      args.distributionId,
    ])
    .apply(([region, clusterName, serviceName, albArnSuffix, targetGroupArnSuffix, cacheClusterIds, tableName, distributionId]) => ({
      region,
      canvasId: args.canvasId,
      clusterName,
      serviceName,
      albArnSuffix,
      targetGroupArnSuffix,
      // A set in AWS: sorted, so the dashboard and alarms do not change when the API reorders it.
      cacheClusterIds: [...cacheClusterIds].sort(),
      tableName,
      tableIndexNames: args.tableIndexNames,
      distributionId,
    }));
}

/** Dimension sets, one place for the names CloudWatch expects. */
export const dims = {
  canvas: (w: Watched) => ({ Canvas: w.canvasId }),
  service: (w: Watched) => ({ ClusterName: w.clusterName, ServiceName: w.serviceName }),
  alb: (w: Watched) => ({ LoadBalancer: w.albArnSuffix }),
  targetGroup: (w: Watched) => ({ TargetGroup: w.targetGroupArnSuffix, LoadBalancer: w.albArnSuffix }),
  cacheCluster: (id: string) => ({ CacheClusterId: id }),
  table: (w: Watched) => ({ TableName: w.tableName }),
  tableIndex: (w: Watched, index: string) => ({ TableName: w.tableName, GlobalSecondaryIndexName: index }),
  tableOperation: (w: Watched, operation: string) => ({ TableName: w.tableName, Operation: operation }),
  distribution: (w: Watched) => ({ DistributionId: w.distributionId, Region: "Global" }),
};

/** The alarm thresholds (index.ts reads and validates them from config; docs/deploy.md lists the defaults). */
export interface Thresholds {
  placementP99Ms: number;
  http5xxPercent: number;
  redisCpuPercent: number;
  redisMemoryPercent: number;
  replicationLagSeconds: number;
  backlogAgeSeconds: number;
  idleMinutes: number;
}
