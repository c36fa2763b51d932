// Autoscaling: the two target-tracking policies, the maxTasks default derived from the measured
// watchers per vCPU, config overrides and bad values, and one set of capacity figures in the
// program, its example stack and both docs.
import { readFileSync } from "node:fs";
import t from "tap";
import { planCapacity } from "../capacity.js";
import { type Program, runStack } from "./fixtures/harness.js";

const run = (config: Record<string, string>, instance: string) => runStack(config, instance);

const read = (rel: string) => readFileSync(new URL(rel, import.meta.url), "utf8");
const program = read("../index.ts");

/** The program's measured figure, as written in index.ts. */
const WATCHERS_PER_VCPU = (() => {
  const m = [...program.matchAll(/^const WATCHERS_PER_VCPU = ([\d_]+);.*measured: see bench\/RESULTS\.md 'watchers'/gm)];
  if (m.length !== 1) throw new Error(`index.ts: expected one marked WATCHERS_PER_VCPU constant, found ${m.length}`);
  return Number(m[0][1].replace(/_/g, ""));
})();
/** cpuTargetPercent's default: above a serving task's measured 59–67 % (bench/RESULTS.md 'watchers'). */
const CPU_TARGET_DEFAULT = 75;
const DEFAULT_PLAN = planCapacity({ watchers: 300_000, watchersPerVcpu: WATCHERS_PER_VCPU, targetPercent: CPU_TARGET_DEFAULT, azCount: 2 });

const policies = (p: Program) => p.ofType("aws:appautoscaling/policy:Policy");
const metricOf = (policy: Program["resources"][number]) =>
  policy.inputs.targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType;
const policyFor = (p: Program, metric: string) => {
  const found = policies(p).filter((x) => metricOf(x) === metric);
  if (found.length !== 1) throw new Error(`expected one ${metric} policy, found ${found.length}`);
  return found[0].inputs;
};
const target = (p: Program) => p.one("aws:appautoscaling/target:Target").inputs;

const defaults = await run({}, "defaults");

t.test("defaults: two target-tracking policies, memory at 70 % and CPU at 75 %, on one target", async (t) => {
  const all = policies(defaults);
  t.equal(all.length, 2, "exactly two scaling policies");
  t.ok(all.every((x) => x.inputs.policyType === "TargetTrackingScaling"), "both target tracking");
  t.same(all.map(metricOf).sort(), ["ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"]);
  const tg = target(defaults);
  for (const x of all) {
    t.same(
      [x.inputs.serviceNamespace, x.inputs.scalableDimension, x.inputs.resourceId],
      [tg.serviceNamespace, tg.scalableDimension, tg.resourceId],
      `${metricOf(x)} scales the service's one target`,
    );
  }
  const memory = policyFor(defaults, "ECSServiceAverageMemoryUtilization").targetTrackingScalingPolicyConfiguration;
  const cpu = policyFor(defaults, "ECSServiceAverageCPUUtilization").targetTrackingScalingPolicyConfiguration;
  t.equal(memory.targetValue, 70, "the owner's memory target");
  t.equal(cpu.targetValue, CPU_TARGET_DEFAULT);
  t.same([memory.scaleOutCooldown, memory.scaleInCooldown], [60, 600]);
  t.same([cpu.scaleOutCooldown, cpu.scaleInCooldown], [60, 900], "scale out within a minute, in slowly");
  t.notOk(cpu.disableScaleIn, "CPU decides scale-in");
});

t.test("defaults: maxCapacity is the maxTasks derived from watchers per vCPU", async (t) => {
  const tg = target(defaults);
  t.equal(tg.minCapacity, 2);
  t.equal(tg.maxCapacity, DEFAULT_PLAN.maxTasks);
  t.equal(DEFAULT_PLAN.maxTasks, DEFAULT_PLAN.tasks + Math.ceil(DEFAULT_PLAN.tasks / 2), "tasks for 300k + one AZ's worth");
  t.equal(DEFAULT_PLAN.tasks, Math.ceil(300_000 / ((WATCHERS_PER_VCPU * CPU_TARGET_DEFAULT) / 100)));
  const td = defaults.one("aws:ecs/taskDefinition:TaskDefinition").inputs;
  t.same([td.cpu, td.memory], ["1024", "2048"], "1 vCPU, 2 GiB");
  const [nofile] = JSON.parse(td.containerDefinitions)[0].ulimits.filter((u: any) => u.name === "nofile");
  t.equal(nofile.softLimit, nofile.hardLimit);
  t.ok(nofile.softLimit >= 3 * WATCHERS_PER_VCPU, `nofile ${nofile.softLimit} ≥ 3 × ${WATCHERS_PER_VCPU} sockets`);
});

t.test("config overrides reach both policies and the target", async (t) => {
  const p = await run(
    { cpuTargetPercent: "85", memoryTargetPercent: "80", minTasks: "4", desiredCount: "5", maxTasks: "50" },
    "overrides",
  );
  t.equal(policies(p).length, 2);
  t.equal(policyFor(p, "ECSServiceAverageCPUUtilization").targetTrackingScalingPolicyConfiguration.targetValue, 85);
  t.equal(policyFor(p, "ECSServiceAverageMemoryUtilization").targetTrackingScalingPolicyConfiguration.targetValue, 80);
  t.same([target(p).minCapacity, target(p).maxCapacity], [4, 50]);
  t.equal(p.one("aws:ecs/service:Service").inputs.desiredCount, 5);
});

t.test("without maxTasks, the ceiling follows the configured CPU target", async (t) => {
  const p = await run({ cpuTargetPercent: "50" }, "target-50");
  const plan = planCapacity({ watchers: 300_000, watchersPerVcpu: WATCHERS_PER_VCPU, targetPercent: 50, azCount: 2 });
  t.ok(plan.maxTasks > DEFAULT_PLAN.maxTasks, "a lower target plans more tasks");
  t.equal(target(p).maxCapacity, plan.maxTasks);
});

t.test("bad autoscaling config fails before anything is created, saying which key", async (t) => {
  const range = (v: string, bound: string) =>
    new RegExp(`Configuration 'tessera:cpuTargetPercent' value '${v}' is outside of the legal range \\(${bound}, inclusive\\)`);
  await t.rejects(run({ cpuTargetPercent: "0" }, "cpu-0"), range("0", "min 10"));
  await t.rejects(run({ cpuTargetPercent: "101" }, "cpu-101"), range("101", "max 95"));
  await t.rejects(run({ cpuTargetPercent: "sixty" }, "cpu-nan"), /tessera:cpuTargetPercent.*sixty/);
  await t.rejects(
    run({ minTasks: "3", desiredCount: "3", maxTasks: "2" }, "max-below-min"),
    /config maxTasks \(2\) must be at least minTasks \(3\)/,
  );
});

t.test("planCapacity: the arithmetic and its guards", async (t) => {
  t.same(planCapacity({ watchers: 300_000, watchersPerVcpu: 18_000, targetPercent: 75, azCount: 2 }), {
    watchersPerTask: 13_500,
    tasks: 23,
    maxTasks: 35,
  });
  t.same(planCapacity({ watchers: 1000, watchersPerVcpu: 1000, targetPercent: 100, azCount: 3 }), {
    watchersPerTask: 1000,
    tasks: 1,
    maxTasks: 2,
  });
  t.throws(() => planCapacity({ watchers: 300_000, watchersPerVcpu: 0, targetPercent: 60, azCount: 2 }), /watchersPerVcpu must be a positive number/);
  t.throws(() => planCapacity({ watchers: 300_000, watchersPerVcpu: 18_000, targetPercent: 120, azCount: 2 }), /at most 100/);
});

// ---- One set of capacity figures -------------------------------------------------------------

const FIGURES = ["watchers per vCPU", "CPU target", "watchers per task", "tasks for 300,000 watchers", "maxTasks default"] as const;
type Figures = Record<(typeof FIGURES)[number], number>;

/** The capacity table's rows ("| watchers per vCPU | 18,000 |"), each exactly once in the text. */
function figuresIn(name: string, text: string): Figures {
  const out = {} as Figures;
  for (const label of FIGURES) {
    const re = new RegExp(`^(?:\\|\\s*|//\\s+)${label}\\s*\\|\\s*([\\d,]+)(?:\\s*%)?\\s*\\|`, "gm");
    const rows = [...text.matchAll(re)];
    if (rows.length !== 1) throw new Error(`${name}: expected one "${label}" row, found ${rows.length}`);
    out[label] = Number(rows[0][1].replace(/,/g, ""));
  }
  return out;
}

t.test("docs/capacity.md, docs/deploy.md, index.ts and the program carry the same figures", async (t) => {
  const expected: Figures = {
    "watchers per vCPU": WATCHERS_PER_VCPU,
    "CPU target": CPU_TARGET_DEFAULT,
    "watchers per task": DEFAULT_PLAN.watchersPerTask,
    "tasks for 300,000 watchers": DEFAULT_PLAN.tasks,
    "maxTasks default": DEFAULT_PLAN.maxTasks,
  };
  const capacity = read("../../docs/capacity.md");
  const deploy = read("../../docs/deploy.md");
  t.same(figuresIn("index.ts", program), expected, "index.ts's table = what the program computes");
  t.same(figuresIn("docs/capacity.md", capacity), expected, "docs/capacity.md");
  t.same(figuresIn("docs/deploy.md", deploy), expected, "docs/deploy.md");
  t.equal(target(defaults).maxCapacity, expected["maxTasks default"], "the deployed default");

  for (const [name, text] of [["docs/capacity.md", capacity], ["docs/deploy.md", deploy]]) {
    const marks = text.match(/measured: see bench\/RESULTS\.md 'watchers'/g) ?? [];
    t.equal(marks.length, 1, `${name} marks the measured figure in one place`);
  }
  const row = (key: string) => new RegExp(`^\\| \`${key}\` \\| \`(\\d+)\` \\|`, "m").exec(deploy)?.[1];
  t.equal(Number(row("maxTasks")), expected["maxTasks default"], "deploy.md config table: maxTasks default");
  t.equal(Number(row("cpuTargetPercent")), expected["CPU target"], "deploy.md config table: cpuTargetPercent default");
  t.same(
    [...deploy.matchAll(/config set (?:minTasks|desiredCount) (\d+)/g)].map((m) => Number(m[1])),
    [expected["tasks for 300,000 watchers"], expected["tasks for 300,000 watchers"]],
    "deploy.md's production commands size for 300,000",
  );
  const example = read("../Pulumi.example.yaml");
  const key = (k: string) => new RegExp(`^\\s*#?\\s*tessera:${k}: (\\d+)`, "m").exec(example)?.[1];
  t.equal(Number(key("minTasks")), expected["tasks for 300,000 watchers"], "example stack: minTasks");
  t.equal(Number(key("desiredCount")), expected["tasks for 300,000 watchers"], "example stack: desiredCount");
  t.equal(Number(key("maxTasks")), expected["maxTasks default"], "example stack: maxTasks (the default)");
  t.equal(Number(key("cpuTargetPercent")), expected["CPU target"], "example stack: cpuTargetPercent (the default)");
});
