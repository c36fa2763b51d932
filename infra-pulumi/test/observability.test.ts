// The dashboard and the alarms: every metric they name exists (the service's EMF names, the real AWS names
// with their dimension sets), every dimension value is a resource this program created, every alarm has its
// threshold from config (default and overridden) and notifies the SNS topic, and bad threshold config fails.
import { readFileSync } from "node:fs";
import t, { type Test } from "tap";
import { EMF_METRIC_NAMES, EMF_NAMESPACE } from "../../service/src/emf.js";
import { ALARM_KEYS, type AlarmKey } from "../alarms.js";
import { INDEX_NAMES } from "../table.js";
import { REGION, type Program, runStack } from "./fixtures/harness.js";
import { alarmMetrics, checkMetricNames, referencedIds, widgetMetrics, type MetricRef } from "./fixtures/metrics.js";

const run = (config: Record<string, string>, instance: string) => runStack(config, instance);

const dashboardOf = (p: Program) => JSON.parse(p.one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
const alarmOf = (p: Program, key: AlarmKey) => {
  const found = p.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name === `tessera-${key}`);
  if (found.length !== 1) throw new Error(`expected one alarm tessera-${key}, found ${found.length}`);
  return found[0];
};
const graphs = (p: Program) => dashboardOf(p).widgets.filter((w: any) => w.type === "metric");

/** What each dimension must be: the resources the program created, the canvas the task serves. */
function expectedDims(p: Program) {
  const env = Object.fromEntries(
    JSON.parse(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions)[0].environment.map((e: any) => [e.name, e.value]),
  );
  const members: string[] = p.one("aws:elasticache/replicationGroup:ReplicationGroup").state.memberClusters;
  return {
    members,
    check: (t: Test, ref: MetricRef) => {
      const one: Record<string, (v: string) => boolean> = {
        Canvas: (v) => v === env.CANVAS_ID,
        Reason: (v) => v === "*",
        ClusterName: (v) => v === p.one("aws:ecs/cluster:Cluster").state.name,
        ServiceName: (v) => v === p.one("aws:ecs/service:Service").state.name,
        LoadBalancer: (v) => v === p.one("aws:lb/loadBalancer:LoadBalancer").state.arnSuffix,
        TargetGroup: (v) => v === p.one("aws:lb/targetGroup:TargetGroup").state.arnSuffix,
        CacheClusterId: (v) => members.includes(v),
        TableName: (v) => v === p.ofType("aws:dynamodb/table:Table").find((r) => r.name.endsWith("-history"))!.state.name,
        GlobalSecondaryIndexName: (v) => (INDEX_NAMES as readonly string[]).includes(v),
        Operation: (v) => ["BatchWriteItem", "PutItem", "Query"].includes(v),
        DistributionId: (v) => v === p.one("aws:cloudfront/distribution:Distribution").id,
        Region: (v) => v === "Global",
      };
      for (const [k, v] of Object.entries(ref.dims)) {
        t.ok(one[k]?.(v), `${ref.where}: ${ref.namespace} ${ref.name} ${k}=${v} is a resource of this stack`);
      }
    },
  };
}


const defaults = await run({}, "defaults");
const OVERRIDES = {
  alarmPlacementP99Ms: "750",
  alarm5xxPercent: "2.5",
  alarmRedisCpuPercent: "65",
  alarmRedisMemoryPercent: "85",
  alarmReplicationLagSeconds: "10",
  alarmBacklogAgeSeconds: "120",
  alarmIdleMinutes: "15",
  maxTasks: "30",
  canvasId: "spring-2027",
  alarmEmail: "oncall@example.com",
};
const overridden = await run(OVERRIDES, "overridden");

t.test("the EMF names come from the service's single list", async (t) => {
  t.equal(EMF_NAMESPACE, "Tessera");
  t.ok(EMF_METRIC_NAMES.length >= 10, `${EMF_METRIC_NAMES.length} names`);
});

for (const [label, p] of [["defaults", defaults], ["overridden", overridden]] as const) {
  t.test(`${label}: every dashboard metric exists, with dimensions of this stack's resources`, async (t) => {
    const { check } = expectedDims(p);
    const all: MetricRef[] = graphs(p).flatMap((w: any) => widgetMetrics(w).refs);
    t.ok(all.length > 30, `${all.length} metrics on the dashboard`);
    checkMetricNames(t, all);
    for (const ref of all) check(t, ref);
    for (const ref of all.filter((r) => r.region)) {
      t.equal(ref.region, ref.namespace === "AWS/CloudFront" ? "us-east-1" : REGION, `${ref.where}: ${ref.namespace} read in its region`);
    }
  });

  t.test(`${label}: every alarm metric exists, with dimensions of this stack's resources`, async (t) => {
    const { check, members } = expectedDims(p);
    for (const key of ALARM_KEYS) {
      const { refs } = alarmMetrics(alarmOf(p, key));
      checkMetricNames(t, refs);
      for (const ref of refs) check(t, ref);
    }
    for (const key of ["redisCpu", "redisMemory", "replicationLag"] as const) {
      const ids = alarmMetrics(alarmOf(p, key)).refs.map((r) => r.dims.CacheClusterId).sort();
      t.same(ids, [...members].sort(), `${key} watches every node of the replication group`);
    }
  });

  t.test(`${label}: expressions refer only to ids defined beside them; one result per alarm`, async (t) => {
    const sources = [
      ...graphs(p).map((w: any) => ({ where: w.properties.title, ...widgetMetrics(w) })),
      ...ALARM_KEYS.map((k) => ({ where: k, ...alarmMetrics(alarmOf(p, k)) })),
    ];
    for (const s of sources) {
      for (const e of s.expressions) {
        for (const id of referencedIds(e)) t.ok(s.ids.has(id), `${s.where}: "${id}" in ${e} is defined`);
      }
    }
    for (const key of ALARM_KEYS) {
      const queries: any[] = alarmOf(p, key).inputs.metricQueries;
      t.equal(queries.filter((q) => q.returnData).length, 1, `${key}: exactly one query is the alarm's value`);
    }
  });
}

t.test("the dashboard shows what operators asked for, on one screen", async (t) => {
  const body = dashboardOf(defaults);
  const names = new Set(graphs(defaults).flatMap((w: any) => widgetMetrics(w).refs.map((r) => `${r.namespace} ${r.name}`)));
  for (const want of [
    "Tessera PlacementsAccepted",
    "Tessera PlacementsRefused",
    "AWS/ApplicationELB HTTPCode_Target_5XX_Count",
    "AWS/ApplicationELB HTTPCode_ELB_5XX_Count",
    "Tessera PlacementLatencyP50",
    "Tessera PlacementLatencyP99",
    "Tessera Watchers",
    "Tessera FrameIntervalMs",
    "ECS/ContainerInsights RunningTaskCount",
    "AWS/ECS CPUUtilization",
    "AWS/ECS MemoryUtilization",
    "AWS/ApplicationELB TargetResponseTime",
    "AWS/ElastiCache EngineCPUUtilization",
    "AWS/ElastiCache DatabaseMemoryUsagePercentage",
    "AWS/ElastiCache ReplicationLag",
    "AWS/DynamoDB ConsumedWriteCapacityUnits",
    "AWS/DynamoDB WriteThrottleEvents",
    "AWS/DynamoDB ThrottledRequests",
    "AWS/CloudFront 5xxErrorRate",
    "Tessera HistoryBacklogLength",
    "Tessera HistoryBacklogAgeSeconds",
  ]) {
    t.ok(names.has(want), want);
  }
  const refusals = graphs(defaults).flatMap((w: any) => widgetMetrics(w).refs).find((r: MetricRef) => r.dims.Reason);
  t.ok(refusals, "refusals by reason (a SEARCH over the Reason dimension)");

  const tasks = graphs(defaults).find((w: any) => widgetMetrics(w).refs.some((r) => r.name === "RunningTaskCount"));
  t.same(tasks.properties.annotations.horizontal.map((a: any) => a.value), [35], "a line at maxTasks (default 35)");
  const tasksOverridden = graphs(overridden).find((w: any) => widgetMetrics(w).refs.some((r) => r.name === "RunningTaskCount"));
  t.same(tasksOverridden.properties.annotations.horizontal.map((a: any) => a.value), [30], "follows maxTasks");

  // One screen: a 24-column grid, no widget over another, no taller than a laptop screen shows (~27 rows).
  const cells = new Set<string>();
  for (const w of body.widgets) {
    t.ok(w.x >= 0 && w.x + w.width <= 24, `"${w.properties.title}" within 24 columns`);
    for (let x = w.x; x < w.x + w.width; x++) for (let y = w.y; y < w.y + w.height; y++) cells.add(`${x},${y}`);
  }
  t.equal(cells.size, body.widgets.reduce((n: number, w: any) => n + w.width * w.height, 0), "no overlapping widgets");
  t.ok(Math.max(...body.widgets.map((w: any) => w.y + w.height)) <= 27, "fits one screen");

  const alarmWidget = body.widgets.find((w: any) => w.type === "alarm");
  const arns = ALARM_KEYS.map((k) => alarmOf(defaults, k).state.arn);
  t.same(alarmWidget.properties.alarms, arns, "the alarm-state row shows every alarm");
  const cluster = defaults.one("aws:ecs/cluster:Cluster").inputs;
  t.same(cluster.settings, [{ name: "containerInsights", value: "enabled" }], "Container Insights on (RunningTaskCount)");
});

t.test("each alarm's threshold comes from config: defaults and overrides", async (t) => {
  const expected: Record<AlarmKey, [number, number]> = {
    placementP99: [500, 750],
    http5xxRate: [1, 2.5],
    tasksAtMax: [35, 30],
    redisCpu: [70, 65],
    redisMemory: [80, 85],
    replicationLag: [5, 10],
    dynamodbThrottling: [0, 0],
    historyBacklogAge: [300, 120],
    noPlacements: [1, 1],
  };
  for (const key of ALARM_KEYS) {
    t.equal(alarmOf(defaults, key).inputs.threshold, expected[key][0], `${key}: default`);
    t.equal(alarmOf(overridden, key).inputs.threshold, expected[key][1], `${key}: configured`);
  }
  const idle = (p: Program) => alarmOf(p, "noPlacements").inputs;
  t.same([idle(defaults).evaluationPeriods, idle(defaults).datapointsToAlarm], [10, 10], "no placements for 10 one-minute periods");
  t.same([idle(overridden).evaluationPeriods, idle(overridden).datapointsToAlarm], [15, 15], "alarmIdleMinutes");
  t.equal(idle(defaults).treatMissingData, "notBreaching", "a minute nobody reported is not a minute nobody could place");
  t.match(idle(defaults).metricQueries.find((q: any) => q.returnData).expression, /watchers > 0 AND placements == 0/);

  const rate = alarmOf(defaults, "http5xxRate").inputs.metricQueries;
  t.ok(rate.filter((q: any) => q.metric).every((q: any) => q.metric.period === 300), "5xx over 5 minutes");
  t.equal(alarmOf(defaults, "tasksAtMax").inputs.evaluationPeriods, 10, "at maxTasks for 10 minutes");
  t.equal(alarmOf(defaults, "tasksAtMax").inputs.comparisonOperator, "GreaterThanOrEqualToThreshold");
});

t.test("alarms notify the SNS topic; the email subscription exists only with alarmEmail", async (t) => {
  for (const [label, p] of [["defaults", defaults], ["overridden", overridden]] as const) {
    const topic = p.one("aws:sns/topic:Topic");
    const alarms = p.ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
    t.equal(alarms.length, ALARM_KEYS.length, `${label}: ${ALARM_KEYS.length} alarms`);
    for (const a of alarms) {
      t.same(a.inputs.alarmActions, [topic.state.arn], `${label} ${a.name}: ALARM to the topic`);
      t.same(a.inputs.okActions, [topic.state.arn], `${label} ${a.name}: OK to the topic`);
      t.equal(a.inputs.actionsEnabled, true);
      t.ok(a.inputs.treatMissingData, `${a.name}: missing data treated deliberately`);
    }
    t.equal(p.outputs.alarmTopicArn, topic.state.arn, `${label}: topic ARN is a stack output`);
  }
  t.equal(defaults.ofType("aws:sns/topicSubscription:TopicSubscription").length, 0, "no alarmEmail: topic without subscription");
  const sub = overridden.one("aws:sns/topicSubscription:TopicSubscription").inputs;
  t.same([sub.topic, sub.protocol, sub.endpoint], [overridden.one("aws:sns/topic:Topic").state.arn, "email", "oncall@example.com"]);
});

t.test("bad alarm config fails before anything is created, saying which key", async (t) => {
  const range = (key: string, v: string, bound: string) =>
    new RegExp(`Configuration 'tessera:${key}' value '${v}' is outside of the legal range \\(${bound}, inclusive\\)`);
  await t.rejects(run({ alarmPlacementP99Ms: "0" }, "p99-0"), range("alarmPlacementP99Ms", "0", "min 1"));
  await t.rejects(run({ alarm5xxPercent: "150" }, "5xx-150"), range("alarm5xxPercent", "150", "max 100"));
  await t.rejects(run({ alarmRedisCpuPercent: "100" }, "cpu-100"), range("alarmRedisCpuPercent", "100", "max 99"));
  await t.rejects(run({ alarmRedisMemoryPercent: "0" }, "mem-0"), range("alarmRedisMemoryPercent", "0", "min 1"));
  await t.rejects(run({ alarmReplicationLagSeconds: "lots" }, "lag-nan"), /Configuration 'tessera:alarmReplicationLagSeconds' value 'lots' is not a valid number/);
  await t.rejects(run({ alarmBacklogAgeSeconds: "5" }, "age-5"), range("alarmBacklogAgeSeconds", "5", "min 10"));
  await t.rejects(run({ alarmIdleMinutes: "2000" }, "idle-2000"), range("alarmIdleMinutes", "2000", "max 1440"));
  await t.rejects(run({ alarmIdleMinutes: "2.5" }, "idle-frac"), /config alarmIdleMinutes must be a whole number of minutes, got 2.5/);
  await t.rejects(run({ alarmEmail: "oncall" }, "email"), /config alarmEmail must be an email address, got "oncall"/);
  await t.rejects(run({ canvasId: "main canvas" }, "canvas"), /config canvasId must be 1-32 of \[A-Za-z0-9_-\], got "main canvas"/);
});

t.test("docs/deploy.md: each alarm key's default as the program's, and a runbook entry per alarm", async (t) => {
  const deploy = readFileSync(new URL("../../docs/deploy.md", import.meta.url), "utf8");
  const row = (key: string) => new RegExp(`^\\| \`${key}\` \\| \`([^\`]*)\` \\|`, "m").exec(deploy)?.[1];
  t.equal(row("alarmPlacementP99Ms"), "500");
  t.equal(row("alarm5xxPercent"), "1");
  t.equal(row("alarmRedisCpuPercent"), "70");
  t.equal(row("alarmRedisMemoryPercent"), "80");
  t.equal(row("alarmReplicationLagSeconds"), "5");
  t.equal(row("alarmBacklogAgeSeconds"), "300");
  t.equal(row("alarmIdleMinutes"), "10");
  t.equal(row("canvasId"), "main");
  const runbook = deploy.split(/^## Runbook$/m)[1]?.split(/^## /m)[0] ?? "";
  t.ok(runbook.length > 0, "a Runbook section");
  for (const key of ALARM_KEYS) {
    const entry = new RegExp(`^### \`${key}\``, "m");
    t.match(runbook, entry, `runbook entry for ${key}`);
    t.match(alarmOf(defaults, key).inputs.alarmDescription, new RegExp(`Runbook: ${key}\\)$`), `${key}'s description points at it`);
  }
});
