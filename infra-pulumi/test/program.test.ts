// The Pulumi program with a plain-HTTP origin and this stack's ECR repository
// (the default shape). Non-default values are configured where a default
// would hide whether the key is read at all.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import vm from "node:vm";
import t from "tap";
import { BOARD_TTL_SECONDS, MANAGED_CACHING_DISABLED, MANAGED_ORIGIN_REQUEST_ALL_VIEWER } from "../cdn.js";
import { HEALTHCHECK_SCRIPT } from "../service.js";
import { ACCOUNT, REGION, behaviourFor, isSecret, runProgram, type Recorded } from "./fixtures/harness.js";

const SESSION_SECRET = "session-secret-0123456789abcdef-0123456789";
const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const ORIGIN_TOKEN = "originTokenABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const REDIS_TOKEN = "redisAuthToken0123456789abcdefABCDEF";

const p = await runProgram(
  {
    imageTag: "git-abc1234",
    cpu: "2048",
    memory: "4096",
    desiredCount: "3",
    minTasks: "3",
    maxTasks: "12",
    logRetentionDays: "14",
    sessionSecret: SESSION_SECRET,
    adminToken: ADMIN_TOKEN,
    originVerifyToken: ORIGIN_TOKEN,
    redisAuthToken: REDIS_TOKEN,
  },
  ["sessionSecret", "adminToken", "originVerifyToken", "redisAuthToken"],
);

const T = {
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  distribution: "aws:cloudfront/distribution:Distribution",
  cachePolicy: "aws:cloudfront/cachePolicy:CachePolicy",
  cfFunction: "aws:cloudfront/function:Function",
  taskDef: "aws:ecs/taskDefinition:TaskDefinition",
  service: "aws:ecs/service:Service",
  cluster: "aws:ecs/cluster:Cluster",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  table: "aws:dynamodb/table:Table",
  redis: "aws:elasticache/replicationGroup:ReplicationGroup",
  alb: "aws:lb/loadBalancer:LoadBalancer",
  tg: "aws:lb/targetGroup:TargetGroup",
  listener: "aws:lb/listener:Listener",
  rule: "aws:lb/listenerRule:ListenerRule",
};

const named = (type: string, name: string): Recorded => {
  const r = p.ofType(type).find((x) => x.name === name);
  if (!r) throw new Error(`no ${type} named ${name}`);
  return r;
};
const container = () => {
  const defs = JSON.parse(p.one(T.taskDef).inputs.containerDefinitions);
  if (defs.length !== 1) throw new Error(`expected one container, got ${defs.length}`);
  return defs[0];
};
const envOf = (c: any): Record<string, string> => Object.fromEntries(c.environment.map((e: any) => [e.name, e.value]));
const policyOf = (role: Recorded) => {
  const policies = p.ofType(T.rolePolicy).filter((rp) => rp.inputs.role === role.id);
  return policies.flatMap((rp) => JSON.parse(rp.inputs.policy).Statement as any[]);
};
const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);

t.test("autoscaling tracks average memory at 70% between minTasks and maxTasks", async (t) => {
  // The CPU policy beside it, defaults and bad values: autoscaling.test.ts.
  const target = p.one("aws:appautoscaling/target:Target");
  const policy = p
    .ofType("aws:appautoscaling/policy:Policy")
    .find((x) => x.inputs.targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType === "ECSServiceAverageMemoryUtilization");
  const cluster = p.one(T.cluster);
  const service = p.one(T.service);
  t.equal(target.inputs.resourceId, `service/${cluster.state.name}/${service.state.name}`);
  t.equal(target.inputs.scalableDimension, "ecs:service:DesiredCount");
  t.equal(target.inputs.minCapacity, 3);
  t.equal(target.inputs.maxCapacity, 12);
  t.ok(policy, "a memory policy");
  t.equal(policy!.inputs.policyType, "TargetTrackingScaling");
  t.equal(policy!.inputs.resourceId, target.inputs.resourceId, "policy scales that target");
  t.equal(policy!.inputs.scalableDimension, "ecs:service:DesiredCount");
  t.equal(policy!.inputs.targetTrackingScalingPolicyConfiguration.targetValue, 70);
});

t.test("CloudFront: /api/board cached exactly 3 s, /ws and /api/* not cached", async (t) => {
  const dist = p.one(T.distribution).inputs;
  const policy = (id: string) => p.byRef(id).inputs;

  const board = behaviourFor(dist, "/api/board");
  t.equal(board.pathPattern, "/api/board");
  const bp = policy(board.cachePolicyId);
  t.same([bp.minTtl, bp.defaultTtl, bp.maxTtl], [3, 3, 3], "min = default = max = 3 s");
  t.equal(BOARD_TTL_SECONDS, 3);
  const key = bp.parametersInCacheKeyAndForwardedToOrigin;
  t.equal(key.cookiesConfig.cookieBehavior, "none", "no per-viewer cookies in the board's cache key");
  t.equal(key.queryStringsConfig.queryStringBehavior, "none", "query strings cannot bust the board cache");

  for (const url of ["/ws", "/ws?since=42", "/api/pixel?x=1&y=2", "/api/session", "/api/config"]) {
    const b = behaviourFor(dist, url);
    t.equal(b.cachePolicyId, MANAGED_CACHING_DISABLED, `${url}: CachingDisabled`);
    t.equal(b.originRequestPolicyId, MANAGED_ORIGIN_REQUEST_ALL_VIEWER, `${url}: all viewer headers, cookies, query strings`);
    t.notOk(b.functionAssociations?.length, `${url}: no edge function in the way`);
  }
  t.ok(["PUT", "POST"].every((m) => behaviourFor(dist, "/api/pixel").allowedMethods.includes(m)), "PUT/POST reach /api/*");
  t.ok(behaviourFor(dist, "/ws").allowedMethods.includes("GET"), "WebSocket upgrade is a GET");
  t.equal(MANAGED_CACHING_DISABLED, "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "AWS's CachingDisabled id");
  t.equal(MANAGED_ORIGIN_REQUEST_ALL_VIEWER, "216adef6-5c7f-47e4-b989-5492eafa07d3", "AWS's AllViewer id");

  const assets = policy(behaviourFor(dist, "/assets/app-3f9a1c.js").cachePolicyId);
  t.ok(assets.minTtl >= 86400 && assets.defaultTtl >= 30 * 86400, "hashed assets cached long");
  const shell = behaviourFor(dist, "/");
  t.equal(shell, dist.defaultCacheBehavior, "/ falls to the default behaviour");
  const shellPolicy = policy(shell.cachePolicyId);
  t.equal(shellPolicy.minTtl, 0, "index.html's no-cache is honoured");
  t.equal(shellPolicy.defaultTtl, 0);
  t.equal(policy(behaviourFor(dist, "/index.html").cachePolicyId), shellPolicy);

  const all = [dist.defaultCacheBehavior, ...dist.orderedCacheBehaviors];
  t.ok(all.every((b: any) => b.viewerProtocolPolicy === "redirect-to-https"), "HTTPS for viewers everywhere");
});

t.test("CloudFront: time travel's keyframes and ranges cached as the origin says (immutable), the list and tail not", async (t) => {
  const dist = p.one(T.distribution).inputs;
  const policy = (id: string) => p.byRef(id).inputs;
  for (const url of ["/api/history/keyframe/5000", "/api/history/range/0/5000", "/api/history/users/0/5000"]) {
    const b = behaviourFor(dist, url);
    t.equal(b.pathPattern, `/api/history/${url.split("/")[3]}/*`, `${url}: its own behaviour`);
    const hp = policy(b.cachePolicyId);
    t.same([hp.minTtl, hp.defaultTtl, hp.maxTtl], [0, 0, 365 * 24 * 3600], `${url}: the origin's immutable max-age is honoured, a 404's no-store too`);
    t.equal(hp.parametersInCacheKeyAndForwardedToOrigin.queryStringsConfig.queryStringBehavior, "none");
    t.same(b.allowedMethods, ["GET", "HEAD", "OPTIONS"]);
  }
  for (const url of ["/api/history", "/api/history/tail?after=5000"]) {
    t.equal(behaviourFor(dist, url).cachePolicyId, MANAGED_CACHING_DISABLED, `${url}: not cached at the edge`);
  }
});

t.test("/metrics is not reachable from the internet", async (t) => {
  const dist = p.one(T.distribution).inputs;
  const fn = p.one(T.cfFunction);
  // Run the edge function's code as CloudFront would.
  const ctx = vm.createContext({});
  vm.runInContext(fn.inputs.code, ctx);
  for (const url of ["/metrics", "/metrics/", "/metrics?format=text", "/metricsz"]) {
    const b = behaviourFor(dist, url);
    t.equal(b.cachePolicyId, MANAGED_CACHING_DISABLED, `${url}: nothing cached`);
    const assoc = b.functionAssociations ?? [];
    t.equal(assoc.length, 1, `${url}: an edge function answers`);
    t.equal(assoc[0]?.eventType, "viewer-request", "before the origin is contacted");
    t.equal(assoc[0]?.functionArn, fn.state.arn, "it is the blocking function");
    const response = vm.runInContext(`handler(${JSON.stringify({ request: { uri: url.split("?")[0], method: "GET" } })})`, ctx);
    t.equal(response.statusCode, 404, `${url}: 404 at the edge`);
    t.notOk(response.uri, "a response, not a forwarded request");
  }
  t.equal(fn.inputs.runtime, "cloudfront-js-2.0");
  t.equal(fn.inputs.publish, true, "only the published stage can be associated");

  // Behind CloudFront, the ALB refuses /metrics before the forward rule.
  const listener = p.one(T.listener);
  const rules = p.ofType(T.rule).filter((r) => r.inputs.listenerArn === listener.state.arn);
  const block = rules.find((r) => r.inputs.conditions.some((c: any) => c.pathPattern?.values?.includes("/metrics*")));
  const forward = rules.find((r) => r.inputs.actions.some((a: any) => a.type === "forward"));
  t.ok(block && forward, "both rules exist");
  t.equal(block!.inputs.actions[0].type, "fixed-response");
  t.equal(block!.inputs.actions[0].fixedResponse.statusCode, "404");
  t.ok(block!.inputs.priority < forward!.inputs.priority, "/metrics rule is evaluated first");
});

t.test("ALB: WebSocket idle timeout, /readyz health check, drain-matched deregistration", async (t) => {
  const alb = p.one(T.alb);
  t.ok(alb.inputs.idleTimeout >= 300, `idle timeout ${alb.inputs.idleTimeout} s ≥ 300 s`);
  t.equal(alb.inputs.internal, false);
  const tg = p.one(T.tg);
  t.equal(tg.inputs.healthCheck.path, "/readyz");
  t.equal(tg.inputs.healthCheck.matcher, "200");
  t.equal(tg.inputs.deregistrationDelay, 15);
  t.equal(tg.inputs.targetType, "ip", "Fargate awsvpc targets");
  t.equal(tg.inputs.port, 8080);

  const listener = p.one(T.listener);
  t.equal(listener.inputs.protocol, "HTTP");
  t.equal(listener.inputs.port, 80);
  t.equal(listener.inputs.loadBalancerArn, alb.state.arn);
  t.equal(listener.inputs.defaultActions[0].type, "fixed-response", "unknown callers get no service");
  t.equal(listener.inputs.defaultActions[0].fixedResponse.statusCode, "403");

  const forward = p.ofType(T.rule).find((r) => r.inputs.actions.some((a: any) => a.type === "forward"))!;
  t.equal(forward.inputs.actions[0].targetGroupArn, tg.state.arn);
  t.same(forward.inputs.conditions, [{ httpHeader: { httpHeaderName: "X-Origin-Verify", values: [ORIGIN_TOKEN] } }], "only CloudFront's header is forwarded");
  t.ok(isSecret(forward.rawInputs.conditions), "the token is a secret in state");
  const origin = p.one(T.distribution).inputs.origins[0];
  t.same(origin.customHeaders, [{ name: "X-Origin-Verify", value: ORIGIN_TOKEN }], "and CloudFront sends it");
  t.equal(origin.domainName, alb.state.dnsName);
  t.equal(origin.customOriginConfig.originProtocolPolicy, "http-only", "no certificate configured");
});

t.test("Redis: Multi-AZ automatic failover, encryption in transit and at rest, tasks only", async (t) => {
  const rg = p.one(T.redis);
  t.equal(rg.inputs.automaticFailoverEnabled, true);
  t.equal(rg.inputs.multiAzEnabled, true);
  t.ok(rg.inputs.numCacheClusters >= 2, "a primary and at least one replica");
  t.equal(rg.inputs.transitEncryptionEnabled, true);
  t.equal(rg.inputs.transitEncryptionMode, "required", "no plaintext clients during or after migration");
  t.equal(rg.inputs.atRestEncryptionEnabled, true);
  t.equal(rg.inputs.engine, "redis");
  t.equal(rg.inputs.engineVersion, "7.1");
  const pg = p.one("aws:elasticache/parameterGroup:ParameterGroup");
  t.equal(rg.inputs.parameterGroupName, pg.state.name);
  t.same(pg.inputs.parameters, [{ name: "maxmemory-policy", value: "noeviction" }], "canvas keys are never evicted");

  const redisSg = named(T.sg, "tessera-redis");
  const tasksSg = named(T.sg, "tessera-tasks");
  t.same(rg.inputs.securityGroupIds, [redisSg.id]);
  const ingress = p.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === redisSg.id);
  t.equal(ingress.length, 1);
  t.match(ingress[0].inputs, { referencedSecurityGroupId: tasksSg.id, fromPort: 6379, toPort: 6379, ipProtocol: "tcp" });
  t.notOk(ingress[0].inputs.cidrIpv4, "no CIDR source");

  const subnets = p.one("aws:elasticache/subnetGroup:SubnetGroup").inputs.subnetIds;
  t.same(subnets, ["tessera-private-0-id", "tessera-private-1-id"], "private subnets");
  const secretValues = JSON.parse(p.one("aws:secretsmanager/secretVersion:SecretVersion").inputs.secretString);
  t.equal(secretValues.REDIS_URL, `rediss://:${REDIS_TOKEN}@${rg.state.primaryEndpointAddress}:6379`, "service connects over TLS, with AUTH");
});

t.test("no security group is open to the internet except the ALB's 80/443", async (t) => {
  const sgs = p.ofType(T.sg);
  t.equal(sgs.length, 4, "alb, tasks, redis, endpoints");
  for (const sg of sgs) {
    t.notOk(sg.inputs.ingress?.length, `${sg.name}: no inline ingress`);
    t.notOk(sg.inputs.egress?.length, `${sg.name}: no inline egress (default allow-all removed)`);
  }
  const albSg = named(T.sg, "tessera-alb");
  const rules = [...p.ofType(T.ingress).map((r) => ({ dir: "ingress", r })), ...p.ofType(T.egress).map((r) => ({ dir: "egress", r }))];
  t.ok(rules.length >= 9, `all rules registered (${rules.length})`);
  const open = rules.filter(({ r }) => r.inputs.cidrIpv4 === "0.0.0.0/0" || r.inputs.cidrIpv6 === "::/0");
  t.ok(open.length >= 1, "the ALB's HTTP listener port is open");
  for (const { dir, r } of open) {
    t.equal(dir, "ingress", `${r.name}: open rule is ingress`);
    t.equal(r.inputs.securityGroupId, albSg.id, `${r.name}: on the ALB's group`);
    t.ok([80, 443].includes(r.inputs.fromPort) && r.inputs.toPort === r.inputs.fromPort, `${r.name}: port 80 or 443 only`);
  }
  for (const { r } of rules) {
    const peers = [r.inputs.cidrIpv4, r.inputs.cidrIpv6, r.inputs.referencedSecurityGroupId, r.inputs.prefixListId].filter(Boolean);
    t.equal(peers.length, 1, `${r.name}: exactly one peer`);
    t.not(r.inputs.ipProtocol, "-1", `${r.name}: a protocol and port, not "all traffic"`);
  }
  const albEgress = p.ofType(T.egress).filter((r) => r.inputs.securityGroupId === albSg.id);
  t.same(albEgress.map((r) => [r.inputs.referencedSecurityGroupId, r.inputs.fromPort]), [[named(T.sg, "tessera-tasks").id, 8080]], "ALB talks only to the tasks");
});

t.test("task role: only the service's DynamoDB calls, only on the history and keyframe tables", async (t) => {
  const table = named(T.table, "tessera-history");
  const keyframes = named(T.table, "tessera-keyframes");
  const td = p.one(T.taskDef).inputs;
  const taskRole = p.byRef(td.taskRoleArn);
  const statements = policyOf(taskRole);
  t.equal(statements.length, 2);
  const [s, k] = statements;
  t.same([...asList(k.Action)].sort(), ["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:Query"], "keyframes: whole items");
  t.same(asList(k.Resource), [keyframes.state.arn], "on the keyframe table only");
  t.equal(s.Effect, "Allow");
  t.same(
    [...asList(s.Action)].sort(),
    ["dynamodb:BatchWriteItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:Query"],
  );
  t.same(asList(s.Resource), [table.state.arn, `${table.state.arn}/index/*`]);
  t.notOk(s.Condition, "no conditions to reason about");
  t.equal(p.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0, "no managed policies attached");
  t.same(JSON.parse(taskRole.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "ecs-tasks.amazonaws.com" });
});

t.test("execution role: image pull, the log stream and the one secret", async (t) => {
  const td = p.one(T.taskDef).inputs;
  const executionRole = p.byRef(td.executionRoleArn);
  const statements = policyOf(executionRole);
  const secret = p.one("aws:secretsmanager/secret:Secret");
  const repo = p.one("aws:ecr/repository:Repository");
  const logGroup = p.one("aws:cloudwatch/logGroup:LogGroup");
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
  t.same(Object.keys(bySid).sort(), ["AppSecret", "EcrAuth", "EcrPull", "LogStream"]);
  t.match(bySid.AppSecret, { Action: "secretsmanager:GetSecretValue", Resource: secret.state.arn });
  t.same(asList(bySid.EcrPull.Resource), [repo.state.arn]);
  t.equal(bySid.LogStream.Resource, `${logGroup.state.arn}:log-stream:*`);
  for (const s of statements) {
    if (s.Resource === "*") t.same(asList(s.Action), ["ecr:GetAuthorizationToken"], "only the token call is account-wide");
  }
});

t.test("SESSION_SECRET, ADMIN_TOKEN and REDIS_URL come from Secrets Manager, never plain environment", async (t) => {
  const c = container();
  const env = envOf(c);
  for (const key of ["SESSION_SECRET", "SESSION_SECRET_PREVIOUS", "ADMIN_TOKEN", "REDIS_URL"]) {
    t.notOk(key in env, `${key} not in environment`);
  }
  const whole = JSON.stringify(p.one(T.taskDef).inputs);
  t.notOk(whole.includes(SESSION_SECRET), "session secret value nowhere in the task definition");
  t.notOk(whole.includes(ADMIN_TOKEN), "admin token value nowhere in the task definition");
  t.notOk(whole.includes(REDIS_TOKEN), "Redis AUTH token nowhere in the task definition");

  const secret = p.one("aws:secretsmanager/secret:Secret");
  const version = p.one("aws:secretsmanager/secretVersion:SecretVersion");
  t.same(c.secrets.map((s: any) => s.name).sort(), ["ADMIN_TOKEN", "REDIS_URL", "SESSION_SECRET"]);
  for (const s of c.secrets) {
    t.equal(s.valueFrom, `${secret.state.arn}:${s.name}::${version.state.versionId}`, `${s.name} from the app secret`);
  }
  t.equal(version.inputs.secretId, secret.id);
  t.same(
    JSON.parse(version.inputs.secretString),
    { SESSION_SECRET, ADMIN_TOKEN, REDIS_URL: `rediss://:${REDIS_TOKEN}@${p.one(T.redis).state.primaryEndpointAddress}:6379` },
    "the secret holds the configured values",
  );
  t.ok(isSecret(version.rawInputs.secretString), "and stays encrypted in the Pulumi state");
  t.notOk(isSecret(p.one(T.taskDef).rawInputs.containerDefinitions), "nothing secret reached the task definition");
});

t.test("ECS service: Fargate, config sizes, circuit breaker with rollback, health check, drain", async (t) => {
  const td = p.one(T.taskDef).inputs;
  t.equal(td.cpu, "2048");
  t.equal(td.memory, "4096");
  t.same(td.requiresCompatibilities, ["FARGATE"]);
  t.equal(td.networkMode, "awsvpc");
  const c = container();
  const repo = p.one("aws:ecr/repository:Repository");
  t.equal(c.image, `${repo.state.repositoryUrl}:git-abc1234`);
  t.equal(repo.inputs.imageTagMutability, "IMMUTABLE", "a tag always names the same image (rollback)");
  t.equal(c.stopTimeout, 30, "SIGTERM drain time before SIGKILL");
  t.same(c.portMappings, [{ containerPort: 8080, protocol: "tcp", name: "http" }]);
  t.equal(c.healthCheck.command[0], "CMD");
  t.equal(c.healthCheck.command[1], "node", "no curl in the slim image");
  t.match(c.healthCheck.command.join(" "), /\/healthz/);
  const env = envOf(c);
  t.equal(env.PORT, "8080");
  t.equal(env.TRUSTED_PROXY_HOPS, "2", "CloudFront + ALB");
  t.equal(env.DYNAMODB_TABLE, named(T.table, "tessera-history").state.name);
  t.equal(env.KEYFRAME_TABLE, named(T.table, "tessera-keyframes").state.name, "time travel's keyframes");
  t.equal(env.AWS_REGION, REGION);
  t.equal(env.ALLOWED_ORIGINS, p.outputs.url);
  t.equal(env.NODE_OPTIONS, "--max-old-space-size=3072", "heap below the 4 GB task limit");
  t.notOk("DYNAMODB_ENDPOINT" in env, "real DynamoDB in the cloud");
  const logGroup = p.one("aws:cloudwatch/logGroup:LogGroup");
  t.equal(logGroup.inputs.retentionInDays, 14);
  t.equal(c.logConfiguration.logDriver, "awslogs");
  t.equal(c.logConfiguration.options["awslogs-group"], logGroup.state.name);

  const svc = p.one(T.service).inputs;
  t.same(svc.deploymentCircuitBreaker, { enable: true, rollback: true });
  t.equal(svc.launchType, "FARGATE");
  t.equal(svc.desiredCount, 3);
  t.equal(svc.deploymentMinimumHealthyPercent, 100, "no capacity dip during deploys");
  t.equal(svc.networkConfiguration.assignPublicIp, false);
  t.same(svc.networkConfiguration.subnets, ["tessera-private-0-id", "tessera-private-1-id"]);
  t.same(svc.networkConfiguration.securityGroups, [named(T.sg, "tessera-tasks").id]);
  t.same(svc.loadBalancers, [{ targetGroupArn: p.one(T.tg).state.arn, containerName: "tessera", containerPort: 8080 }]);
  t.equal(svc.taskDefinition, p.one(T.taskDef).state.arn);
});

t.test("the container health check command really probes /healthz", async (t) => {
  let status = 200;
  const server = createServer((req, res) => {
    res.statusCode = req.url === "/healthz" ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const [cmd, ...args] = container().healthCheck.command.slice(1);
  t.equal(args[1], HEALTHCHECK_SCRIPT);
  const { NODE_V8_COVERAGE: _notForChildren, ...env } = process.env;
  // Async spawn: the server answers from this same event loop.
  const run = () =>
    new Promise<number | null>((resolve) =>
      spawn(cmd === "node" ? process.execPath : cmd, args, { env: { ...env, PORT: String(port) }, stdio: "ignore" }).on(
        "exit",
        (code) => resolve(code),
      ),
    );
  t.equal(await run(), 0, "healthy when /healthz answers 200");
  status = 503;
  t.equal(await run(), 1, "unhealthy otherwise");
  server.close();
  t.equal(await run(), 1, "unhealthy when nothing listens");
  t.doesNotThrow(() => new vm.Script(HEALTHCHECK_SCRIPT), "script parses");

  // The image's Docker HEALTHCHECK (used outside ECS) probes the same way.
  const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8").replace(/\\\n\s*/g, " ");
  const m = /^HEALTHCHECK\s.*?\bCMD\s+(\[.*\])\s*$/m.exec(dockerfile);
  t.ok(m, "Dockerfile has an exec-form HEALTHCHECK");
  t.same(JSON.parse(m![1]), ["node", "-e", HEALTHCHECK_SCRIPT], "same probe as the task definition");
});

t.test("DynamoDB keyframe table: pk/sk, on-demand, deletion protection like the history", async (t) => {
  const tbl = named(T.table, "tessera-keyframes").inputs;
  t.equal(tbl.billingMode, "PAY_PER_REQUEST");
  t.equal(tbl.hashKey, "pk");
  t.equal(tbl.rangeKey, "sk");
  t.same(tbl.attributes, [{ name: "pk", type: "S" }, { name: "sk", type: "N" }], "the schema timetravel/dynamo-store.ts creates on DynamoDB Local");
  t.equal(tbl.deletionProtectionEnabled, named(T.table, "tessera-history").inputs.deletionProtectionEnabled);
});

t.test("DynamoDB history table: key schema, on-demand, point-in-time recovery", async (t) => {
  const tbl = named(T.table, "tessera-history").inputs;
  t.equal(tbl.billingMode, "PAY_PER_REQUEST");
  t.same(tbl.pointInTimeRecovery, { enabled: true });
  t.equal(tbl.hashKey, "pk");
  t.equal(tbl.rangeKey, "sk");
  const attrs = Object.fromEntries(tbl.attributes.map((a: any) => [a.name, a.type]));
  t.same(attrs, { pk: "S", sk: "N", gsi1pk: "S", gsi2pk: "S" });
  const gsis = Object.fromEntries(tbl.globalSecondaryIndexes.map((g: any) => [g.name, g]));
  t.same(Object.keys(gsis).sort(), ["byTime", "byUser"]);
  for (const [idx, hash] of [["byUser", "gsi1pk"], ["byTime", "gsi2pk"]]) {
    t.same(gsis[idx].keySchemas, [{ attributeName: hash, keyType: "HASH" }, { attributeName: "sk", keyType: "RANGE" }], `${idx} keys`);
    t.equal(gsis[idx].projectionType, "ALL", `${idx} projects ALL`);
  }
  t.equal(tbl.deletionProtectionEnabled, true);
});

t.test("the table Pulumi creates is the one the service creates locally", async (t) => {
  // service/src/history/dynamo.ts builds the same table on DynamoDB Local;
  // the two definitions must not drift apart.
  // (A computed specifier: tsc -p infra-pulumi stays out of the service's sources.)
  const serviceModule: string = "../../service/src/history/dynamo.js";
  const local = (await import(serviceModule)).tableDefinition("x");
  const tbl = named(T.table, "tessera-history").inputs;
  t.equal(tbl.billingMode, local.BillingMode);
  const key = (ks: any[]) => ks.map((k: any) => `${k.AttributeName ?? k.attributeName}:${k.KeyType ?? k.keyType}`);
  t.same([`${tbl.hashKey}:HASH`, `${tbl.rangeKey}:RANGE`], key(local.KeySchema));
  t.same(
    Object.fromEntries(tbl.attributes.map((a: any) => [a.name, a.type])),
    Object.fromEntries(local.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType])),
  );
  const gsis = (list: any[], name: string, keys: string, proj: (g: any) => string) =>
    Object.fromEntries(list.map((g) => [g[name], { keys: key(g[keys]), projection: proj(g) }]));
  t.same(
    gsis(tbl.globalSecondaryIndexes, "name", "keySchemas", (g) => g.projectionType),
    gsis(local.GlobalSecondaryIndexes, "IndexName", "KeySchema", (g) => g.Projection.ProjectionType),
  );
});

t.test("network: two AZs, private tasks, VPC endpoints instead of NAT", async (t) => {
  const subnets = p.ofType("aws:ec2/subnet:Subnet");
  t.equal(subnets.length, 4);
  const pub = subnets.filter((s) => s.inputs.tags.tier === "public");
  const priv = subnets.filter((s) => s.inputs.tags.tier === "private");
  t.same(pub.map((s) => s.inputs.availabilityZone), ["us-east-1a", "us-east-1b"]);
  t.same(priv.map((s) => s.inputs.availabilityZone), ["us-east-1a", "us-east-1b"]);
  t.same(p.one(T.alb).inputs.subnets, pub.map((s) => s.id), "ALB in the public subnets");
  t.equal(p.ofType("aws:ec2/natGateway:NatGateway").length, 0);
  const privateRt = p.ofType("aws:ec2/routeTable:RouteTable").find((r) => r.name === "tessera-private")!;
  t.notOk(privateRt.inputs.routes?.length, "private subnets have no route out");
  const assoc = p.ofType("aws:ec2/routeTableAssociation:RouteTableAssociation").filter((a) => a.inputs.routeTableId === privateRt.id);
  t.same(assoc.map((a) => a.inputs.subnetId).sort(), priv.map((s) => s.id).sort());
  const endpoints = p.ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
  const svcName = (e: Recorded) => e.inputs.serviceName.replace(`com.amazonaws.${REGION}.`, "");
  const gateways = endpoints.filter((e) => e.inputs.vpcEndpointType === "Gateway");
  t.same(gateways.map(svcName).sort(), ["dynamodb", "s3"]);
  for (const g of gateways) t.same(g.inputs.routeTableIds, [privateRt.id]);
  const ifaces = endpoints.filter((e) => e.inputs.vpcEndpointType === "Interface");
  t.same(ifaces.map(svcName).sort(), ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]);
  for (const e of ifaces) {
    t.equal(e.inputs.privateDnsEnabled, true);
    t.same(e.inputs.subnetIds, priv.map((s) => s.id));
    t.same(e.inputs.securityGroupIds, [named(T.sg, "tessera-endpoints").id]);
  }
  const vpc = p.one("aws:ec2/vpc:Vpc").inputs;
  t.equal(vpc.enableDnsHostnames, true, "needed for private DNS on endpoints");
});

t.test("outputs: public URL, ALB name, table name", async (t) => {
  t.equal(p.outputs.url, `https://${p.one(T.distribution).state.domainName}`);
  t.equal(p.outputs.albName, p.one(T.alb).state.name);
  t.equal(p.outputs.tableName, named(T.table, "tessera-history").state.name);
  t.equal(p.outputs.imageRepositoryUrl, `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/tessera-test`, "per-stack repository name");
});

