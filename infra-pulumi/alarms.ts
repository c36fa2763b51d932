// CloudWatch alarms, each to one SNS topic (ALARM and OK both notify, so a page also says when it is over).
// docs/deploy.md "Runbook" has, per alarm, what it means and the first steps; the alarm descriptions point there.
//
// Every alarm is a metric-math alarm (metricQueries), also those on a single metric: one shape to read and test.
// Missing data is "notBreaching" throughout, each for its own reason (the "Missing:" note on each alarm):
// the Tessera metrics arrive once a minute from every task, and a minute without them is not evidence of the
// specific trouble an alarm names; a service that stopped altogether shows as ALB 5xx, which is alarmed.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DYNAMODB_OPERATIONS, TESSERA_NAMESPACE, dims, type Thresholds, type Watched } from "./watched.js";

export interface AlarmsArgs {
  name: string;
  watched: pulumi.Output<Watched>;
  thresholds: Thresholds;
  maxTasks: number;
  /** Subscribed to the topic by email when set (the address must confirm the subscription). */
  alarmEmail?: string;
}

export const ALARM_KEYS = [
  "placementP99",
  "http5xxRate",
  "tasksAtMax",
  "redisCpu",
  "redisMemory",
  "replicationLag",
  "dynamodbThrottling",
  "historyBacklogAge",
  "noPlacements",
] as const;
export type AlarmKey = (typeof ALARM_KEYS)[number];

export interface Alarms {
  topic: aws.sns.Topic;
  subscription?: aws.sns.TopicSubscription;
  alarms: Record<AlarmKey, aws.cloudwatch.MetricAlarm>;
}

type Query = aws.types.input.cloudwatch.MetricAlarmMetricQuery;

const metric = (id: string, namespace: string, metricName: string, dimensions: Record<string, string>, stat: string, period = 60): Query => ({
  id,
  metric: { namespace, metricName, dimensions, stat, period },
  returnData: false,
});
const result = (id: string, expression: string, label: string): Query => ({ id, expression, label, returnData: true });
/** A single metric as the alarm's value. */
const only = (q: Query, label: string): Query[] => [{ ...q, label, returnData: true }];

const RUNBOOK = "docs/deploy.md, Runbook";

export function createAlarms(args: AlarmsArgs): Alarms {
  const { name, watched: w, thresholds: t } = args;
  if (args.alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(args.alarmEmail)) {
    throw new Error(`config alarmEmail must be an email address, got "${args.alarmEmail}"`);
  }

  const topic = new aws.sns.Topic(`${name}-alarms`, { displayName: "Tessera alarms" });
  const subscription = args.alarmEmail
    ? new aws.sns.TopicSubscription(`${name}-alarms-email`, { topic: topic.arn, protocol: "email", endpoint: args.alarmEmail })
    : undefined;

  interface Spec {
    description: string;
    queries: (w: Watched) => Query[];
    threshold: number;
    comparison: "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold";
    /** Periods looked at (a minute each, five for the 5xx rate), and how many of them must breach. */
    periods: number;
    breaching?: number;
  }
  const alarm = (key: AlarmKey, s: Spec) =>
    new aws.cloudwatch.MetricAlarm(`${name}-${key}`, {
      alarmDescription: `${s.description} (${RUNBOOK}: ${key})`,
      metricQueries: w.apply(s.queries),
      comparisonOperator: s.comparison,
      threshold: s.threshold,
      evaluationPeriods: s.periods,
      datapointsToAlarm: s.breaching ?? s.periods,
      treatMissingData: "notBreaching",
      actionsEnabled: true,
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });

  const lb = (w: Watched) => dims.alb(w);
  const nodesMax = (metricName: string, stat: string) => (w: Watched) => {
    const ids = w.cacheClusterIds.map((_, i) => `node${i}`);
    return [
      ...w.cacheClusterIds.map((id, i) => metric(ids[i], "AWS/ElastiCache", metricName, dims.cacheCluster(id), stat)),
      // Over every node: the primary moves on failover, and each replica has its own lag.
      result("worst", `MAX([${ids.join(", ")}])`, `${metricName}, worst node`),
    ];
  };

  const alarms: Record<AlarmKey, aws.cloudwatch.MetricAlarm> = {
    // The slowest task's p99: one bad task (a hot Redis connection, a stalled loop) is trouble for its users.
    // Missing: the p99 is left out of a minute with no accepted placement; nothing was slow then.
    placementP99: alarm("placementP99", {
      description: `Placement latency p99 on some task above ${t.placementP99Ms} ms in 3 of 5 minutes`,
      queries: (w) => only(metric("p99", TESSERA_NAMESPACE, "PlacementLatencyP99", dims.canvas(w), "Maximum"), "worst task's p99, ms"),
      threshold: t.placementP99Ms,
      comparison: "GreaterThanThreshold",
      periods: 5,
      breaching: 3,
    }),

    // The 5xx share of requests over 5 minutes. ELB 5xx (502/503/504) include requests that never reached a
    // task, which RequestCount leaves out: the denominator is at least the errors, so a full outage reads 100 %.
    // Missing: FILL turns a quiet period into 0 errors of 0 requests, which the IF reads as 0 %.
    http5xxRate: alarm("http5xxRate", {
      description: `5xx above ${t.http5xxPercent} % of ALB requests over 5 minutes`,
      queries: (w) => [
        metric("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb(w), "Sum", 300),
        metric("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb(w), "Sum", 300),
        metric("requests", "AWS/ApplicationELB", "RequestCount", lb(w), "Sum", 300),
        { id: "errors", expression: "FILL(target5xx, 0) + FILL(elb5xx, 0)", label: "5xx", returnData: false },
        { id: "total", expression: "MAX([FILL(requests, 0), errors])", label: "requests", returnData: false },
        result("rate", "IF(total > 0, 100 * errors / total, 0)", "5xx, % of requests"),
      ],
      threshold: t.http5xxPercent,
      comparison: "GreaterThanThreshold",
      periods: 1,
    }),

    // Autoscaling has nowhere left to go. MIN with the desired count: during a deploy up to twice the tasks
    // run (deploymentMaximumPercent 200), which is not being at the ceiling.
    // Missing: Container Insights reports every minute; a gap is its own, not the service's.
    tasksAtMax: alarm("tasksAtMax", {
      description: `Running tasks at maxTasks (${args.maxTasks}) for 10 minutes: autoscaling cannot add more`,
      queries: (w) => [
        metric("running", "ECS/ContainerInsights", "RunningTaskCount", dims.service(w), "Minimum"),
        metric("desired", "ECS/ContainerInsights", "DesiredTaskCount", dims.service(w), "Minimum"),
        result("atMax", "MIN([running, desired])", "running tasks (desired when lower)"),
      ],
      threshold: args.maxTasks,
      comparison: "GreaterThanOrEqualToThreshold",
      periods: 10,
    }),

    // Redis runs its commands on one thread: EngineCPUUtilization is that thread. Missing: node metrics gap.
    redisCpu: alarm("redisCpu", {
      description: `Redis engine CPU above ${t.redisCpuPercent} % on some node for 5 minutes`,
      queries: nodesMax("EngineCPUUtilization", "Average"),
      threshold: t.redisCpuPercent,
      comparison: "GreaterThanThreshold",
      periods: 5,
    }),

    // noeviction: at 100 % Redis refuses writes and placements fail. Missing: node metrics gap.
    redisMemory: alarm("redisMemory", {
      description: `Redis memory above ${t.redisMemoryPercent} % of maxmemory on some node for 5 minutes`,
      queries: nodesMax("DatabaseMemoryUsagePercentage", "Maximum"),
      threshold: t.redisMemoryPercent,
      comparison: "GreaterThanThreshold",
      periods: 5,
    }),

    // What a failover would lose. Missing: only replicas report lag; the primary's series is empty.
    replicationLag: alarm("replicationLag", {
      description: `Redis replica more than ${t.replicationLagSeconds} s behind the primary for 3 minutes`,
      queries: nodesMax("ReplicationLag", "Maximum"),
      threshold: t.replicationLagSeconds,
      comparison: "GreaterThanThreshold",
      periods: 3,
    }),

    // On-demand tables throttle past twice their previous peak or a partition's limit; the history writer
    // retries, so one throttled minute is noise and five in a row is a backlog in the making.
    // Missing: DynamoDB reports throttles only when there are some.
    dynamodbThrottling: alarm("dynamodbThrottling", {
      description: "DynamoDB history table throttled in each of 5 minutes",
      queries: (w) => {
        const sources = [
          metric("table", "AWS/DynamoDB", "WriteThrottleEvents", dims.table(w), "Sum"),
          ...w.tableIndexNames.map((ix, i) => metric(`index${i}`, "AWS/DynamoDB", "WriteThrottleEvents", dims.tableIndex(w, ix), "Sum")),
          ...DYNAMODB_OPERATIONS.map((op, i) => metric(`op${i}`, "AWS/DynamoDB", "ThrottledRequests", dims.tableOperation(w, op), "Sum")),
        ];
        const sum = sources.map((q) => `FILL(${q.id}, 0)`).join(" + ");
        return [...sources, result("throttled", sum, "throttle events + throttled requests")];
      },
      threshold: 0,
      comparison: "GreaterThanThreshold",
      periods: 5,
    }),

    // Placements acknowledged to users but not yet durable in DynamoDB: a Redis loss now would lose them.
    // Missing: every task reports the age each minute (0 when caught up); silence is not a backlog.
    historyBacklogAge: alarm("historyBacklogAge", {
      description: `Oldest placement not yet in DynamoDB older than ${t.backlogAgeSeconds} s for 2 minutes`,
      queries: (w) => only(metric("age", TESSERA_NAMESPACE, "HistoryBacklogAgeSeconds", dims.canvas(w), "Maximum"), "oldest pending entry, s"),
      threshold: t.backlogAgeSeconds,
      comparison: "GreaterThanThreshold",
      periods: 2,
    }),

    // People are watching and nobody manages to place: placing is broken somewhere (session, CloudFront
    // behaviour, Redis script, a freeze left on). Both metrics come on the same line from every task, so a
    // minute without them is a minute nobody reported, not one where placing failed: notBreaching, and the
    // alarm needs every one of the N minutes to show watchers with zero placements. A total outage is the
    // 5xx alarm's; this one stays specific to "serving, but not placing".
    noPlacements: alarm("noPlacements", {
      description: `No placement accepted for ${t.idleMinutes} minutes while watchers are connected`,
      queries: (w) => [
        metric("placements", TESSERA_NAMESPACE, "PlacementsAccepted", dims.canvas(w), "Sum"),
        metric("watchers", TESSERA_NAMESPACE, "Watchers", dims.canvas(w), "Sum"),
        result("idle", "IF(watchers > 0 AND placements == 0, 1, 0)", "1 = watched, nothing placed"),
      ],
      threshold: 1,
      comparison: "GreaterThanOrEqualToThreshold",
      periods: t.idleMinutes,
    }),
  };

  return { topic, subscription, alarms };
}
