// Project damage alerts in the cloud: the VAPID keys reach the tasks — the private key through the app secret,
// never the task definition — and a partial set stops `pulumi up` before anything is created.
import t from "tap";
import { runStack, type Program } from "./fixtures/harness.js";

const VAPID_PRIVATE = "vapid-private-key-0123456789abcdefghijklm";
const run = (config: Record<string, string>, secrets: Record<string, string>, instance: string) => runStack(config, instance, secrets);
const container = (p: Program) => JSON.parse(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions)[0];
const envOf = (c: any) => Object.fromEntries(c.environment.map((e: any) => [e.name, e.value]));

t.test("with VAPID keys: public key and subject in the environment, the private key from the app secret", async (t) => {
  const p = await run({ vapidPublicKey: "BPublicKey", vapidSubject: "mailto:ops@example.com" }, { vapidPrivateKey: VAPID_PRIVATE }, "push-on");
  const c = container(p);
  t.match(envOf(c), { VAPID_PUBLIC_KEY: "BPublicKey", VAPID_SUBJECT: "mailto:ops@example.com" });
  t.notOk("VAPID_PRIVATE_KEY" in envOf(c), "the private key is not plain environment");
  t.ok(c.secrets.some((s: any) => s.name === "VAPID_PRIVATE_KEY"), "it comes from Secrets Manager");
  t.notOk(JSON.stringify(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs).includes(VAPID_PRIVATE), "its value is nowhere in the task definition");
  t.equal(JSON.parse(p.one("aws:secretsmanager/secretVersion:SecretVersion").inputs.secretString).VAPID_PRIVATE_KEY, VAPID_PRIVATE);
});

t.test("without them alerts are off: nothing VAPID anywhere", async (t) => {
  const p = await run({}, {}, "push-off");
  const c = container(p);
  t.notOk(Object.keys(envOf(c)).some((k) => k.startsWith("VAPID")));
  t.notOk(c.secrets.some((s: any) => s.name.startsWith("VAPID")));
});

t.test("a partial set is refused", async (t) => {
  await t.rejects(run({ vapidPublicKey: "BPublicKey" }, {}, "push-partial"), /vapidPublicKey, vapidPrivateKey and vapidSubject go together/);
});
