// Pulumi.example.yaml is a working stack config, and it and docs/deploy.md
// name every key the program reads.
import { readFileSync } from "node:fs";
import t from "tap";
import { runProgram } from "./fixtures/harness.js";

const read = (rel: string) => readFileSync(new URL(rel, import.meta.url), "utf8");
const program = read("../index.ts");
const example = read("../Pulumi.example.yaml");
const docs = read("../../docs/deploy.md");

const programKeys = new Set(
  [...program.matchAll(/config\.(?:get|require)(?:Number|Boolean|Secret|Object)?\("(\w+)"/g)].map((m) => m[1]),
);

t.test("every config key the program reads is documented", async (t) => {
  t.ok(programKeys.size >= 30, `found the program's keys (${programKeys.size})`);
  // The "Configuration" section's table only: other tables (metrics, alarms) also start rows with a `name`.
  const configSection = docs.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? "";
  const docKeys = new Set([...configSection.matchAll(/^\| `([\w:]+)` \|/gm)].map((m) => m[1]));
  t.same([...docKeys].filter((k) => k !== "aws:region").sort(), [...programKeys].sort(), "docs/deploy.md table = program keys");
  const exampleKeys = new Set([
    ...[...example.matchAll(/tessera:(\w+):/g)].map((m) => m[1]),
    ...[...example.matchAll(/config set --secret (\w+)/g)].map((m) => m[1]),
  ]);
  t.same([...exampleKeys].sort(), [...programKeys].sort(), "Pulumi.example.yaml mentions each key");
});

t.test("the example stack config deploys (with secrets supplied)", async (t) => {
  const config: Record<string, string> = {};
  for (const m of example.matchAll(/^  tessera:(\w+): "?([^"#\n]*?)"?\s*(?:#.*)?$/gm)) config[m[1]] = m[2];
  t.same(Object.keys(config).sort(), ["cpu", "desiredCount", "imageTag", "memory", "minTasks"]);
  const secrets = {
    sessionSecret: "example-session-secret-0123456789-abcdef",
    adminToken: "example-admin-token-0123",
    originVerifyToken: "exampleOriginVerifyToken0123456789abcdef",
    redisAuthToken: "exampleRedisAuthToken0123456789abcdef",
  };
  const p = await runProgram({ ...config, ...secrets }, Object.keys(secrets));
  const target = p.one("aws:appautoscaling/target:Target").inputs;
  // The figures themselves are checked against the capacity plan in autoscaling.test.ts.
  t.equal(target.minCapacity, Number(config.minTasks), "production floor");
  t.ok(target.maxCapacity > target.minCapacity, "the default ceiling leaves room above it");
  t.equal(p.one("aws:ecs/service:Service").inputs.desiredCount, Number(config.desiredCount));
});
