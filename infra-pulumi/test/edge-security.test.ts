// Edge security: WAF on the distribution, access logs, HTTPS to the origin, HSTS, Redis AUTH and
// the admin allow-list, for the default stack (no certificate, admin closed) and a stack with
// every knob set (certificates, allow-list, own limits, mid-rotation origin token).
import { createHash } from "node:crypto";
import vm from "node:vm";
import t from "tap";
import { Redis } from "ioredis";
import { ADMIN_MARK_HEADER } from "../admin.js";
import { HSTS_MAX_AGE_SECONDS, HTTP_ORIGIN_WARNING, MANAGED_ORIGIN_REQUEST_ALL_VIEWER } from "../cdn.js";
import { ALB_LOG_DELIVERY_SERVICE } from "../logs.js";
import { evaluateAlb, evaluateWaf } from "./fixtures/edge.js";
import { ACCOUNT, CLOUDFRONT_LOG_DELIVERY_CANONICAL_ID, ELB_ACCOUNT, OWNER_CANONICAL_ID, behaviourFor, isSecret, type Program, TEST_SECRETS, runStack } from "./fixtures/harness.js";

const TOKEN = TEST_SECRETS.originVerifyToken;
const PREVIOUS_TOKEN = "previousOriginToken0123456789abcdefghi";
const REDIS_TOKEN = TEST_SECRETS.redisAuthToken;
const run = runStack;

const closed = await run({}, "edge-default");
const open = await run(
  {
    albCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/alb-0000",
    originDomainName: "origin.canvas.example.com",
    domainName: "canvas.example.com",
    cdnCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/cdn-1111",
    adminAllowCidrs: "203.0.113.0/24, 2001:db8:1234::/48",
    wafSessionRatePer5Min: "120",
    wafPixelRatePer5Min: "1500",
    wafWsRatePer5Min: "900",
    accessLogRetentionDays: "30",
    redisAuthTokenUpdateStrategy: "SET",
  },
  "edge-open",
  { originVerifyTokenPrevious: PREVIOUS_TOKEN },
);

const T = {
  acl: "aws:wafv2/webAcl:WebAcl",
  ipSet: "aws:wafv2/ipSet:IpSet",
  dist: "aws:cloudfront/distribution:Distribution",
  bucket: "aws:s3/bucket:Bucket",
  alb: "aws:lb/loadBalancer:LoadBalancer",
};
const rule = (p: Program, name: string) => {
  const r = p.one(T.acl).inputs.rules.find((x: any) => x.name === name);
  if (!r) throw new Error(`no WAF rule ${name}`);
  return r;
};
const of = (p: Program, type: string, bucket: { id: string }) => {
  const found = p.ofType(type).filter((r) => r.inputs.bucket === bucket.id);
  if (found.length !== 1) throw new Error(`expected one ${type} on ${bucket.id}, found ${found.length}`);
  return found[0].inputs;
};
const bucketNamed = (p: Program, name: string) => p.ofType(T.bucket).find((b) => b.name === name)!;
const behaviours = (p: Program) => {
  const d = p.one(T.dist).inputs;
  return [...d.orderedCacheBehaviors, d.defaultCacheBehavior];
};
const mark = (token: string) => createHash("sha256").update(`tessera-admin:${token}`).digest("hex");

t.test("WAF: one CLOUDFRONT web ACL in us-east-1, on the distribution, metrics everywhere", async (t) => {
  for (const p of [closed, open]) {
    const acl = p.one(T.acl);
    t.equal(acl.inputs.scope, "CLOUDFRONT");
    t.equal(acl.inputs.region, "us-east-1", "CloudFront-scoped WAF lives in us-east-1");
    t.equal(p.one(T.dist).inputs.webAclId, acl.state.arn, "associated with the distribution (WAFv2: the ARN)");
    t.same(acl.inputs.defaultAction, { allow: {} });
    const rules = acl.inputs.rules;
    t.equal(new Set(rules.map((r: any) => r.priority)).size, rules.length, "distinct priorities");
    for (const v of [acl.inputs.visibilityConfig, ...rules.map((r: any) => r.visibilityConfig)]) {
      t.match(v, { cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: /^tessera-[\w-]+$/ });
    }
  }
  t.ok(isSecret(open.one(T.acl).rawInputs.rules), "the admin mark stays secret in state");
});

t.test("WAF: rate rules per address on /api/session, /api/pixel and /ws, limits from config", async (t) => {
  const expect = [
    [closed, { session: 300, pixel: 3000, ws: 600 }],
    [open, { session: 120, pixel: 1500, ws: 900 }],
  ] as const;
  for (const [p, limits] of expect) {
    for (const [key, limit] of Object.entries(limits)) {
      const r = rule(p, `rate-${key}`).statement.rateBasedStatement;
      t.match(r, { limit, aggregateKeyType: "IP", evaluationWindowSec: 300 }, `${key}: ${limit} per address per 5 min`);
    }
    const limited = (url: string, method = "GET") => evaluateWaf(p, { url, ip: "198.51.100.7", overLimit: true, method });
    t.match(limited("/api/session", "POST"), { blockedBy: "rate-session", status: 429, bodyKey: "rate_limited" });
    t.equal(limited("/api/session/challenge").blockedBy, undefined, "the challenge GET is not a new session: not counted");
    t.match(limited("/api/pixel?x=1&y=2"), { blockedBy: "rate-pixel", status: 429 });
    t.match(limited("/ws?since=42"), { blockedBy: "rate-ws", status: 429 });
    t.match(limited("/api//pixel"), { blockedBy: "rate-pixel" }, "path tricks are normalised");
    for (const url of ["/api/board", "/api/config", "/", "/assets/app.js"]) {
      t.equal(limited(url).blockedBy, undefined, `${url}: no rate rule applies`);
    }
    t.equal(evaluateWaf(p, { url: "/api/pixel", ip: "198.51.100.7" }).blockedBy, undefined, "under the limit: through");
  }
  const bodies = Object.fromEntries(open.one(T.acl).inputs.customResponseBodies.map((b: any) => [b.key, b]));
  t.equal(bodies.rate_limited.contentType, "APPLICATION_JSON");
  t.match(JSON.parse(bodies.rate_limited.content), { error: "rate_limited", message: /retry/ }, "the API's error shape");
});

t.test("WAF: AWS managed common rule set and IP reputation list, blocking", async (t) => {
  for (const p of [closed, open]) {
    for (const [name, group] of [["common", "AWSManagedRulesCommonRuleSet"], ["ip-reputation", "AWSManagedRulesAmazonIpReputationList"]]) {
      const r = rule(p, name);
      t.same(r.statement.managedRuleGroupStatement.vendorName, "AWS");
      t.equal(r.statement.managedRuleGroupStatement.name, group);
      t.same(r.overrideAction, { none: {} }, `${group}: its own block actions apply (not count)`);
      // Bodies are < 1 KiB (the service answers 413 above that): SizeRestrictions_BODY (8 KB) stays blocking.
      t.notOk(r.statement.managedRuleGroupStatement.ruleActionOverrides?.length, `${group}: no rule downgraded`);
    }
  }
});

t.test("access logs: private, encrypted, expiring buckets; CloudFront and the ALB write to them", async (t) => {
  for (const [p, days] of [[closed, 90], [open, 30]] as const) {
    const cdnBucket = bucketNamed(p, "tessera-cdn-logs");
    const albBucket = bucketNamed(p, "tessera-alb-logs");
    t.equal(p.ofType(T.bucket).length, 2);
    for (const b of [cdnBucket, albBucket]) {
      t.match(of(p, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b), {
        blockPublicAcls: true,
        ignorePublicAcls: true,
        blockPublicPolicy: true,
        restrictPublicBuckets: true,
      });
      const sse = of(p, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b);
      t.same(sse.rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }], "SSE-S3 (all ALB delivery supports)");
      const [life] = of(p, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", b).rules;
      t.match(life, { status: "Enabled", filter: {}, expiration: { days } }, `${b.name}: expire after ${days} days`);
      const policy = JSON.parse(of(p, "aws:s3/bucketPolicy:BucketPolicy", b).policy);
      t.match(
        policy.Statement.find((s: any) => s.Sid === "TlsOnly"),
        { Effect: "Deny", Principal: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } },
      );
      t.equal(b.inputs.forceDestroy, false, "destroy never deletes logs silently");
    }

    // CloudFront standard logs need ACLs, and the awslogsdelivery grant.
    t.equal(of(p, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", cdnBucket).rule.objectOwnership, "BucketOwnerPreferred");
    const acl = of(p, "aws:s3/bucketAcl:BucketAcl", cdnBucket).accessControlPolicy;
    t.equal(acl.owner.id, OWNER_CANONICAL_ID);
    t.same(
      acl.grants.map((g: any) => [g.grantee.type, g.grantee.id, g.permission]).sort(),
      [["CanonicalUser", OWNER_CANONICAL_ID, "FULL_CONTROL"], ["CanonicalUser", CLOUDFRONT_LOG_DELIVERY_CANONICAL_ID, "FULL_CONTROL"]].sort(),
    );
    t.same(p.one(T.dist).inputs.loggingConfig, { bucket: cdnBucket.state.bucketDomainName, prefix: "cloudfront/", includeCookies: false });

    // ALB: ACLs off, the bucket policy lets ELB log delivery write under the prefix only.
    t.equal(of(p, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", albBucket).rule.objectOwnership, "BucketOwnerEnforced");
    t.equal(p.ofType("aws:s3/bucketAcl:BucketAcl").length, 1, "no ACL on the ALB bucket");
    t.same(p.one(T.alb).inputs.accessLogs, { bucket: albBucket.state.bucket, prefix: "alb", enabled: true });
    const writers = JSON.parse(of(p, "aws:s3/bucketPolicy:BucketPolicy", albBucket).policy).Statement.filter((s: any) => s.Effect === "Allow");
    t.same(
      writers.map((s: any) => [s.Principal, s.Action, s.Resource]),
      [
        [{ Service: ALB_LOG_DELIVERY_SERVICE }, "s3:PutObject", `${albBucket.state.arn}/alb/AWSLogs/${ACCOUNT}/*`],
        [{ AWS: `arn:aws:iam::${ELB_ACCOUNT}:root` }, "s3:PutObject", `${albBucket.state.arn}/alb/AWSLogs/${ACCOUNT}/*`],
      ],
      "service principal (regions since 2022-08) and the regional ELB account (older regions)",
    );
  }
});

t.test("origin: HTTPS when the ALB has a certificate; plain HTTP only with a warning", async (t) => {
  const originPolicy = (p: Program) => p.one(T.dist).inputs.origins[0].customOriginConfig.originProtocolPolicy;
  t.equal(originPolicy(open), "https-only");
  t.same(open.warnings, [], "no warning with a certificate");
  // The ALB sets X-Forwarded-Proto from the listener the request arrived on: the rules that forward
  // to the tasks live on the HTTPS listener, so the service sees https and sets Secure cookies.
  const listeners = open.ofType("aws:lb/listener:Listener");
  const forwardRules = open.ofType("aws:lb/listenerRule:ListenerRule").filter((r) => r.inputs.actions[0].type === "forward");
  t.ok(forwardRules.length >= 1);
  for (const r of forwardRules) t.equal(open.byRef(r.inputs.listenerArn).inputs.protocol, "HTTPS", `${r.name}: on the HTTPS listener`);
  t.equal(listeners.find((l) => l.inputs.protocol === "HTTP")!.inputs.defaultActions[0].type, "redirect", "HTTP only redirects");

  t.equal(originPolicy(closed), "http-only");
  t.same(closed.warnings, [HTTP_ORIGIN_WARNING], "pulumi up says so");
  t.match(HTTP_ORIGIN_WARNING, /plain HTTP.*without Secure.*albCertificateArn/s);
});

t.test("HSTS: a response headers policy on every behaviour", async (t) => {
  for (const p of [closed, open]) {
    const policy = p.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy");
    const hsts = policy.inputs.securityHeadersConfig.strictTransportSecurity;
    t.ok(hsts.accessControlMaxAgeSec >= 365 * 24 * 3600, `max-age ${hsts.accessControlMaxAgeSec} s ≥ one year`);
    t.equal(hsts.accessControlMaxAgeSec, HSTS_MAX_AGE_SECONDS);
    t.equal(hsts.includeSubdomains, true);
    t.equal(hsts.override, true, "whatever the origin sends");
    for (const b of behaviours(p)) t.equal(b.responseHeadersPolicyId, policy.id, `${b.pathPattern ?? "default"}: HSTS`);
  }
});

t.test("Redis: TLS + AUTH; the token reaches the tasks only through Secrets Manager", async (t) => {
  for (const [p, strategy] of [[closed, "ROTATE"], [open, "SET"]] as const) {
    const rg = p.one("aws:elasticache/replicationGroup:ReplicationGroup");
    t.equal(rg.inputs.transitEncryptionEnabled, true);
    t.equal(rg.inputs.authToken, REDIS_TOKEN);
    t.ok(isSecret(rg.rawInputs.authToken), "secret in state");
    t.equal(rg.inputs.authTokenUpdateStrategy, strategy);

    const secret = p.one("aws:secretsmanager/secret:Secret");
    const version = p.one("aws:secretsmanager/secretVersion:SecretVersion");
    const url = `rediss://:${REDIS_TOKEN}@${rg.state.primaryEndpointAddress}:6379`;
    t.equal(JSON.parse(version.inputs.secretString).REDIS_URL, url);
    const td = p.one("aws:ecs/taskDefinition:TaskDefinition");
    const [c] = JSON.parse(td.inputs.containerDefinitions);
    t.same(c.secrets.find((s: any) => s.name === "REDIS_URL"), { name: "REDIS_URL", valueFrom: `${secret.state.arn}:REDIS_URL::${version.state.versionId}` });
    t.notOk(c.environment.some((e: any) => e.name === "REDIS_URL"), "not in the plain environment");
    t.notOk(td.inputs.containerDefinitions.includes(REDIS_TOKEN), "the token is nowhere in the task definition");
    const exec = p.byRef(td.inputs.executionRoleArn);
    const statements = p
      .ofType("aws:iam/rolePolicy:RolePolicy")
      .filter((rp) => rp.inputs.role === exec.id)
      .flatMap((rp) => JSON.parse(rp.inputs.policy).Statement);
    t.ok(statements.some((s: any) => s.Action === "secretsmanager:GetSecretValue" && s.Resource === secret.state.arn), "execution role reads it");
  }

  // What the container gets is what the service's config accepts and ioredis authenticates with.
  const rg = closed.one("aws:elasticache/replicationGroup:ReplicationGroup");
  const url = `rediss://:${REDIS_TOKEN}@${rg.state.primaryEndpointAddress}:6379`;
  const configModule: string = "../../service/src/config.js";
  const { loadConfig } = await import(configModule);
  t.equal(loadConfig({ REDIS_URL: url, SESSION_SECRET: TEST_SECRETS.sessionSecret, DATA_DIR: "/tmp/tessera" }).redisUrl, url);
  const client = new Redis(url, { lazyConnect: true });
  t.match(client.options, { host: rg.state.primaryEndpointAddress, port: 6379, password: REDIS_TOKEN, username: "" });
  t.ok(client.options.tls, "rediss:// turns TLS on");
  client.disconnect();
});

t.test("admin, no allow-list: refused at CloudFront, WAF and the ALB", async (t) => {
  const dist = closed.one(T.dist).inputs;
  const fn = closed.one("aws:cloudfront/function:Function");
  const ctx = vm.createContext({});
  vm.runInContext(fn.inputs.code, ctx);
  for (const url of ["/api/admin/ban", "/api/admin/log?limit=5", "/api/admin"]) {
    const b = behaviourFor(dist, url);
    t.equal(b.pathPattern, "/api/admin*", `${url}: its own behaviour, not /api/*`);
    t.equal(b.functionAssociations?.[0]?.functionArn, fn.state.arn);
    const response = vm.runInContext(`handler(${JSON.stringify({ request: { uri: url.split("?")[0], method: "POST" } })})`, ctx);
    t.equal(response.statusCode, 403, `${url}: 403 at the edge`);
  }
  t.ok(behaviourFor(dist, "/api/admin/ban").allowedMethods.includes("POST"), "POST gets the 403 too, not a 405");
  t.equal(closed.ofType(T.ipSet).length, 0);
  for (const ip of ["203.0.113.9", "2001:db8:1234::1", "198.51.100.7"]) {
    for (const url of ["/api/admin/ban", "/api//admin/ban", "/api/%61dmin/rollback", "/api/./admin/log"]) {
      t.match(evaluateWaf(closed, { url, ip }), { blockedBy: "admin-deny", status: 403, bodyKey: "forbidden" }, `WAF: ${url} from ${ip}`);
    }
  }
  t.equal(evaluateWaf(closed, { url: "/api/pixel", ip: "198.51.100.7" }).blockedBy, undefined, "other paths untouched");
  const fromCf = { "X-Origin-Verify": TOKEN };
  t.match(evaluateAlb(closed, "/api/admin/ban", fromCf), { forward: false, status: 403 }, "ALB refuses it even from CloudFront");
  t.match(evaluateAlb(closed, "/api/admin/ban", { ...fromCf, [ADMIN_MARK_HEADER]: mark(TOKEN) }), { forward: false, status: 403 }, "a mark opens nothing");
  t.match(evaluateAlb(closed, "/api/pixel", fromCf), { forward: true });
  t.match(evaluateAlb(closed, "/api/pixel", {}), { forward: false, status: 403 }, "direct hits still refused");
});

t.test("admin with adminAllowCidrs: only those networks, checked at WAF and required by the ALB", async (t) => {
  const dist = open.one(T.dist).inputs;
  const b = behaviourFor(dist, "/api/admin/ban");
  t.equal(b.pathPattern, "/api/admin*");
  t.notOk(b.functionAssociations?.length, "no edge function: passed on");
  t.equal(b.originRequestPolicyId, MANAGED_ORIGIN_REQUEST_ALL_VIEWER, "X-Admin-Token and WAF's mark reach the origin");
  t.ok(["POST", "GET"].every((m) => b.allowedMethods.includes(m)));

  const sets = Object.fromEntries(open.ofType(T.ipSet).map((s) => [s.inputs.ipAddressVersion, s.inputs]));
  t.same(sets.IPV4.addresses, ["203.0.113.0/24"]);
  t.same(sets.IPV6.addresses, ["2001:db8:1234::/48"]);
  for (const s of Object.values(sets)) t.match(s, { scope: "CLOUDFRONT", region: "us-east-1" });

  for (const ip of ["203.0.113.9", "2001:db8:1234:5::1"]) {
    const v = evaluateWaf(open, { url: "/api/admin/ban", ip });
    t.equal(v.blockedBy, undefined, `${ip}: allowed`);
    t.same(v.inserted, { [ADMIN_MARK_HEADER]: mark(TOKEN) }, `${ip}: marked for the ALB`);
    t.match(evaluateWaf(open, { url: "/api/admin/ban", ip, overLimit: true }), { blockedBy: undefined }, "admin has no rate rule of its own");
  }
  for (const ip of ["203.0.114.9", "198.51.100.7", "2001:db8:1235::1"]) {
    t.match(evaluateWaf(open, { url: "/api/admin/rollback", ip }), { blockedBy: "admin-deny", status: 403 }, `${ip}: refused`);
    t.same(evaluateWaf(open, { url: "/api/pixel", ip }).inserted, {}, "no mark outside admin");
  }

  const fromCf = { "X-Origin-Verify": TOKEN };
  t.match(evaluateAlb(open, "/api/admin/ban", { ...fromCf, [ADMIN_MARK_HEADER]: mark(TOKEN) }), { forward: true });
  t.match(evaluateAlb(open, "/api/admin/ban", { "X-Origin-Verify": PREVIOUS_TOKEN, [ADMIN_MARK_HEADER]: mark(PREVIOUS_TOKEN) }), { forward: true }, "during rotation");
  t.match(evaluateAlb(open, "/api/admin/ban", fromCf), { forward: false, status: 403 }, "CloudFront without WAF's mark: refused");
  t.match(evaluateAlb(open, "/api/admin/ban", { ...fromCf, [ADMIN_MARK_HEADER]: "1" }), { forward: false, status: 403 }, "a guessed mark");
  t.match(evaluateAlb(open, "/api/admin/ban", { [ADMIN_MARK_HEADER]: mark(TOKEN) }), { forward: false, status: 403 }, "mark without the origin header");
  const allowed = open.ofType("aws:lb/listenerRule:ListenerRule").find((r) => r.name === "tessera-admin-allowed")!;
  const values = allowed.inputs.conditions.flatMap((c: any) => c.pathPattern?.values ?? c.httpHeader?.values);
  t.ok(values.length <= 5, `${values.length} condition values: within the ALB's 5 per rule`);
  t.ok(isSecret(allowed.rawInputs.conditions), "marks and tokens are secret in state");
  const refusal = open.ofType("aws:lb/listenerRule:ListenerRule").find((r) => r.name === "tessera-block-admin")!.inputs.actions[0].fixedResponse;
  t.match(JSON.parse(refusal.messageBody), { error: "forbidden" }, "a JSON error like the service's");
});

t.test("bad edge config fails before anything is created, saying which key", async (t) => {
  const range = (key: string, v: string, bound: string) =>
    new RegExp(`Configuration 'tessera:${key}' value '${v}' is outside of the legal range \\(${bound}, inclusive\\)`);
  await t.rejects(run({ adminAllowCidrs: "203.0.113.0" }, "cidr-no-prefix"), /adminAllowCidrs: "203\.0\.113\.0" is not a CIDR/);
  await t.rejects(run({ adminAllowCidrs: "203.0.113.0/24,300.1.1.0/24" }, "cidr-octet"), /"300\.1\.1\.0\/24" is not an IPv4 or IPv6 address/);
  await t.rejects(run({ adminAllowCidrs: "0.0.0.0/0" }, "cidr-all"), /"0\.0\.0\.0\/0" would allow every address/);
  await t.rejects(run({ adminAllowCidrs: "203.0.113.7/24" }, "cidr-host"), /"203\.0\.113\.7\/24" has host bits set/);
  await t.rejects(run({ adminAllowCidrs: "2001:db8::/129" }, "cidr-v6-long"), /has a prefix over \/128/);
  await t.rejects(run({ accessLogRetentionDays: "-1" }, "retention-neg"), range("accessLogRetentionDays", "-1", "min 1"));
  await t.rejects(run({ accessLogRetentionDays: "7.5" }, "retention-frac"), /accessLogRetentionDays must be a whole number of days/);
  await t.rejects(run({ wafPixelRatePer5Min: "5" }, "rate-low"), range("wafPixelRatePer5Min", "5", "min 10"));
  await t.rejects(run({ wafWsRatePer5Min: "100.5" }, "rate-frac"), /WAF rate limit for ws must be a whole number/);
  await t.rejects(run({ redisAuthTokenUpdateStrategy: "DELETE" }, "strategy"), /redisAuthTokenUpdateStrategy must be ROTATE or SET, got "DELETE"/);
  await t.rejects(run({ originDomainName: "origin.canvas.example.com" }, "origin-no-cert"), /originDomainName needs albCertificateArn/);
});
