// One CloudWatch dashboard, one screen: alarm states on top, then a row each for the game (placements,
// refusals, errors, latency), the fan-out and the tasks, the load balancer and Redis, and the durable side
// (DynamoDB, CloudFront, the history backlog). Lines sit on the alarms' thresholds where there is one.
// docs/deploy.md "Dashboard and alarms" describes each widget; the runbook says which to look at when.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  CLOUDFRONT_METRICS_REGION,
  DYNAMODB_OPERATIONS,
  TESSERA_NAMESPACE,
  dims,
  type Thresholds,
  type Watched,
} from "./watched.js";

export interface DashboardArgs {
  /** Dashboard name: letters, digits, "-" and "_". */
  dashboardName: string;
  watched: pulumi.Output<Watched>;
  thresholds: Thresholds;
  maxTasks: number;
  cpuTargetPercent: number;
  memoryTargetPercent: number;
  /** Shown in the alarm-status widget, in this order. */
  alarmArns: pulumi.Input<string>[];
}

/** A metric row of the dashboard JSON: namespace, name, dimension name/value pairs, then rendering options. */
type MetricRow = (string | Record<string, unknown>)[];
type Annotation = { label: string; value: number; yAxis?: "right" };

interface Graph {
  title: string;
  metrics: MetricRow[];
  stat?: string;
  /** Default: the stack's region. */
  region?: string;
  left?: string;
  right?: string;
  annotations?: Annotation[];
}

const GRID = { columns: 4, width: 6, height: 6 };
const ALARM_ROW_HEIGHT = 3;

function row(namespace: string, name: string, dimensions: Record<string, string>, options: Record<string, unknown> = {}): MetricRow {
  return [namespace, name, ...Object.entries(dimensions).flat(), ...(Object.keys(options).length ? [options] : [])];
}
const expr = (expression: string, label: string, options: Record<string, unknown> = {}): MetricRow => [{ expression, label, ...options }];
/** A Sum turned into a rate: PERIOD() follows the period the console picks when zoomed out. */
const perSecond = (id: string, label: string, options: Record<string, unknown> = {}): MetricRow =>
  expr(`${id} / PERIOD(${id})`, label, options);

/** What the widgets draw besides the metrics: the lines at thresholds and targets. */
type Lines = Omit<DashboardArgs, "watched" | "alarmArns" | "dashboardName">;

function graphs(w: Watched, a: Lines): Graph[] {
  const t = a.thresholds;
  const tessera = (name: string, options: Record<string, unknown> = {}) => row(TESSERA_NAMESPACE, name, dims.canvas(w), options);
  const alb = (name: string, options: Record<string, unknown>) => row("AWS/ApplicationELB", name, dims.alb(w), options);
  const ecs = (ns: string, name: string, options: Record<string, unknown>) => row(ns, name, dims.service(w), options);
  const nodes = (name: string, stat: string) =>
    w.cacheClusterIds.map((id) => row("AWS/ElastiCache", name, dims.cacheCluster(id), { stat, label: id }));
  const tables = [
    { label: w.tableName, dims: dims.table(w) },
    ...w.tableIndexNames.map((ix) => ({ label: `index ${ix}`, dims: dims.tableIndex(w, ix) })),
  ];
  const search = `SEARCH('{${TESSERA_NAMESPACE},Canvas,Reason} MetricName="PlacementsRefused" Canvas="${w.canvasId}"', 'Sum', 60)`;

  return [
    // Row 1: the game.
    {
      title: "Placements per second",
      metrics: [
        tessera("PlacementsAccepted", { id: "accepted", stat: "Sum", visible: false }),
        tessera("PlacementsRefused", { id: "refused", stat: "Sum", visible: false }),
        perSecond("accepted", "accepted/s"),
        perSecond("refused", "refused/s (all reasons)"),
      ],
      left: "per second",
    },
    {
      title: "Refused placements per second, by reason",
      metrics: [expr(`${search} / 60`, "")],
      left: "per second",
    },
    {
      title: "5xx (ALB): count per minute and % of requests",
      metrics: [
        alb("HTTPCode_Target_5XX_Count", { id: "target5xx", stat: "Sum", label: "from tasks (Target 5XX)" }),
        alb("HTTPCode_ELB_5XX_Count", { id: "elb5xx", stat: "Sum", label: "from the ALB (ELB 5XX)" }),
        alb("RequestCount", { id: "requests", stat: "Sum", visible: false }),
        // The 5xx alarm's expression (alarms.ts).
        expr("FILL(target5xx, 0) + FILL(elb5xx, 0)", "5xx", { id: "errors", visible: false }),
        expr("MAX([FILL(requests, 0), errors])", "requests", { id: "total", visible: false }),
        expr("IF(total > 0, 100 * errors / total, 0)", "5xx % of requests", { yAxis: "right" }),
      ],
      left: "count",
      right: "%",
      annotations: [{ label: "5xx alarm", value: t.http5xxPercent, yAxis: "right" }],
    },
    {
      title: "Placement latency (ms)",
      metrics: [
        tessera("PlacementLatencyP50", { stat: "Average", label: "p50 (average over tasks)" }),
        tessera("PlacementLatencyP99", { stat: "Maximum", label: "p99 (worst task)" }),
      ],
      left: "ms",
      annotations: [{ label: "p99 alarm", value: t.placementP99Ms }],
    },
    // Row 2: the fan-out and the tasks.
    {
      title: "Watchers (connected WebSockets, all tasks)",
      metrics: [tessera("Watchers", { stat: "Sum", label: "watchers" })],
    },
    {
      title: "Frame interval and event-loop lag (ms, worst task)",
      metrics: [
        tessera("FrameIntervalMs", { stat: "Maximum", label: "frame interval" }),
        tessera("EventLoopLagP99", { stat: "Maximum", label: "event-loop lag p99" }),
      ],
      left: "ms",
    },
    {
      title: "ECS tasks",
      metrics: [
        ecs("ECS/ContainerInsights", "RunningTaskCount", { stat: "Maximum", label: "running" }),
        ecs("ECS/ContainerInsights", "DesiredTaskCount", { stat: "Maximum", label: "desired" }),
        ecs("ECS/ContainerInsights", "PendingTaskCount", { stat: "Maximum", label: "pending" }),
      ],
      annotations: [{ label: "maxTasks", value: a.maxTasks }],
    },
    {
      title: "ECS CPU and memory (%)",
      metrics: [
        ecs("AWS/ECS", "CPUUtilization", { stat: "Average", label: "CPU average" }),
        ecs("AWS/ECS", "CPUUtilization", { stat: "Maximum", label: "CPU busiest task" }),
        ecs("AWS/ECS", "MemoryUtilization", { stat: "Average", label: "memory average" }),
      ],
      left: "%",
      annotations: [
        { label: "CPU target", value: a.cpuTargetPercent },
        { label: "memory target", value: a.memoryTargetPercent },
      ],
    },
    // Row 3: the load balancer and Redis.
    {
      title: "ALB target response time (s)",
      metrics: [
        alb("TargetResponseTime", { stat: "p50", label: "p50" }),
        alb("TargetResponseTime", { stat: "p99", label: "p99" }),
      ],
      left: "seconds",
    },
    {
      title: "Redis engine CPU (%) per node",
      metrics: nodes("EngineCPUUtilization", "Average"),
      left: "%",
      annotations: [{ label: "alarm", value: t.redisCpuPercent }],
    },
    {
      title: "Redis memory (% of maxmemory) per node",
      metrics: nodes("DatabaseMemoryUsagePercentage", "Maximum"),
      left: "%",
      annotations: [{ label: "alarm", value: t.redisMemoryPercent }],
    },
    {
      title: "Redis replication lag (s) per replica",
      metrics: nodes("ReplicationLag", "Maximum"),
      left: "seconds",
      annotations: [{ label: "alarm", value: t.replicationLagSeconds }],
    },
    // Row 4: the durable side and the edge.
    {
      title: "DynamoDB consumed write capacity (WCU/s)",
      metrics: tables.flatMap((x, i) => [
        row("AWS/DynamoDB", "ConsumedWriteCapacityUnits", x.dims, { id: `wcu${i}`, stat: "Sum", visible: false }),
        perSecond(`wcu${i}`, x.label),
      ]),
      left: "WCU/s",
    },
    {
      title: "DynamoDB throttling (per minute)",
      metrics: [
        ...tables.map((x) => row("AWS/DynamoDB", "WriteThrottleEvents", x.dims, { stat: "Sum", label: `write throttle events, ${x.label}` })),
        ...DYNAMODB_OPERATIONS.map((op) => row("AWS/DynamoDB", "ThrottledRequests", dims.tableOperation(w, op), { stat: "Sum", label: `throttled ${op}` })),
      ],
    },
    {
      title: "CloudFront 5xx error rate (%)",
      region: CLOUDFRONT_METRICS_REGION,
      metrics: [row("AWS/CloudFront", "5xxErrorRate", dims.distribution(w), { stat: "Average", label: w.distributionId })],
      left: "%",
    },
    {
      title: "History backlog: placements not yet in DynamoDB",
      metrics: [
        tessera("HistoryBacklogLength", { stat: "Maximum", label: "entries (worst task's view)" }),
        tessera("HistoryBacklogAgeSeconds", { stat: "Maximum", label: "oldest entry age, s", yAxis: "right" }),
      ],
      left: "entries",
      right: "seconds",
      annotations: [{ label: "age alarm", value: t.backlogAgeSeconds, yAxis: "right" }],
    },
  ];
}

/** The dashboard's JSON body (CloudWatch's dashboard body structure). */
export function dashboardBody(w: Watched, a: Lines, alarmArns: string[]): string {
  const widgets: Record<string, unknown>[] = [
    {
      type: "alarm",
      x: 0,
      y: 0,
      width: GRID.columns * GRID.width,
      height: ALARM_ROW_HEIGHT,
      properties: { title: "Alarms", alarms: alarmArns, sortBy: "stateUpdatedTimestamp" },
    },
  ];
  graphs(w, a).forEach((g, i) => {
    widgets.push({
      type: "metric",
      x: (i % GRID.columns) * GRID.width,
      y: ALARM_ROW_HEIGHT + Math.floor(i / GRID.columns) * GRID.height,
      width: GRID.width,
      height: GRID.height,
      properties: {
        title: g.title,
        view: "timeSeries",
        stacked: false,
        region: g.region ?? w.region,
        period: 60,
        stat: g.stat ?? "Sum",
        metrics: g.metrics,
        yAxis: {
          left: { min: 0, ...(g.left ? { label: g.left, showUnits: false } : {}) },
          ...(g.right ? { right: { min: 0, label: g.right, showUnits: false } } : {}),
        },
        ...(g.annotations ? { annotations: { horizontal: g.annotations } } : {}),
      },
    });
  });
  return JSON.stringify({ start: "-PT3H", widgets });
}

export function createDashboard(args: DashboardArgs): aws.cloudwatch.Dashboard {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(args.dashboardName)) {
    throw new Error(`dashboard name must be 1-255 of [A-Za-z0-9_-], got "${args.dashboardName}"`);
  }
  const { watched, alarmArns, dashboardName, ...rest } = args;
  return new aws.cloudwatch.Dashboard(dashboardName, {
    dashboardName,
    dashboardBody: pulumi.all([watched, pulumi.all(alarmArns)]).apply(([w, arns]) => dashboardBody(w, rest, arns)),
  });
}
