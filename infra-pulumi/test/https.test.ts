// The program with every optional knob on: a prebuilt ECR image, TLS from
// CloudFront to the ALB, a custom viewer domain, and secrets mid-rotation.
import t from "tap";
import { MANAGED_CACHING_DISABLED } from "../cdn.js";
import { behaviourFor, isSecret, runProgram } from "./fixtures/harness.js";

const IMAGE = "210987654321.dkr.ecr.us-east-1.amazonaws.com/tessera/service:v1.4.2";
const ALB_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/alb-0000";
const CDN_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/cdn-1111";
const TOKEN = "currentOriginToken0123456789abcdefghij";
const PREVIOUS_TOKEN = "previousOriginToken0123456789abcdefghi";

const p = await runProgram(
  {
    imageUri: IMAGE,
    albCertificateArn: ALB_CERT,
    originDomainName: "origin.canvas.example.com",
    domainName: "canvas.example.com",
    cdnCertificateArn: CDN_CERT,
    cpuArchitecture: "ARM64",
    sessionSecret: "new-session-secret-0123456789abcdef-xyz",
    sessionSecretPrevious: "old-session-secret-0123456789abcdef-xyz",
    adminToken: "admin-token-0123456789abcdef",
    originVerifyToken: TOKEN,
    originVerifyTokenPrevious: PREVIOUS_TOKEN,
    redisAuthToken: "redisAuthToken0123456789abcdefABCDEF",
  },
  ["sessionSecret", "sessionSecretPrevious", "adminToken", "originVerifyToken", "originVerifyTokenPrevious", "redisAuthToken"],
);

const container = () => JSON.parse(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions)[0];

t.test("imageUri: no repository is created and the task runs that image", async (t) => {
  t.equal(p.ofType("aws:ecr/repository:Repository").length, 0);
  t.equal(container().image, IMAGE);
  t.equal(p.outputs.imageRepositoryUrl, undefined);
  const exec = p.byRef(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs.executionRoleArn);
  const policy = p.ofType("aws:iam/rolePolicy:RolePolicy").find((rp) => rp.inputs.role === exec.id)!;
  const pull = JSON.parse(policy.inputs.policy).Statement.find((s: any) => s.Sid === "EcrPull");
  t.same(pull.Resource, ["arn:aws:ecr:us-east-1:210987654321:repository/tessera/service"], "pull only from that repository");
  t.equal(p.one("aws:ecs/taskDefinition:TaskDefinition").inputs.runtimePlatform.cpuArchitecture, "ARM64");
});

t.test("ALB: HTTPS listener with the certificate; HTTP only redirects", async (t) => {
  const listeners = p.ofType("aws:lb/listener:Listener");
  t.equal(listeners.length, 2);
  const https = listeners.find((l) => l.inputs.port === 443)!;
  const http = listeners.find((l) => l.inputs.port === 80)!;
  t.equal(https.inputs.protocol, "HTTPS");
  t.equal(https.inputs.certificateArn, ALB_CERT);
  t.match(https.inputs.sslPolicy, /^ELBSecurityPolicy-TLS13/);
  t.same(http.inputs.defaultActions, [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }]);
  const rules = p.ofType("aws:lb/listenerRule:ListenerRule");
  t.ok(rules.length >= 3 && rules.every((r) => r.inputs.listenerArn === https.state.arn), "rules live on the HTTPS listener");
  const forward = rules.find((r) => r.inputs.actions[0].type === "forward")!;
  t.same(forward.inputs.conditions[0].httpHeader.values, [TOKEN, PREVIOUS_TOKEN], "both tokens accepted while rotating");

  const albSg = p.ofType("aws:ec2/securityGroup:SecurityGroup").find((s) => s.name === "tessera-alb")!;
  const open = p
    .ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    .filter((r) => r.inputs.cidrIpv4 === "0.0.0.0/0");
  t.same(open.map((r) => [r.inputs.securityGroupId, r.inputs.fromPort]).sort(), [[albSg.id, 443], [albSg.id, 80]]);
  t.equal(p.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) => r.inputs.cidrIpv4).length, 0);
});

t.test("CloudFront: TLS to the origin name, custom domain and certificate", async (t) => {
  const dist = p.one("aws:cloudfront/distribution:Distribution");
  const origin = dist.inputs.origins[0];
  t.equal(origin.domainName, "origin.canvas.example.com");
  t.equal(origin.customOriginConfig.originProtocolPolicy, "https-only");
  t.same(origin.customOriginConfig.originSslProtocols, ["TLSv1.2"]);
  t.same(origin.customHeaders, [{ name: "X-Origin-Verify", value: TOKEN }], "CloudFront sends the current token");
  t.ok(isSecret(dist.rawInputs.origins), "origin header value is secret in state");
  t.same(dist.inputs.aliases, ["canvas.example.com"]);
  t.match(dist.inputs.viewerCertificate, { acmCertificateArn: CDN_CERT, sslSupportMethod: "sni-only" });
  t.equal(p.outputs.url, "https://canvas.example.com");
  t.equal(behaviourFor(dist.inputs, "/ws").cachePolicyId, MANAGED_CACHING_DISABLED);
});

t.test("rotation: the previous session secret is injected from Secrets Manager too", async (t) => {
  const c = container();
  t.same(c.secrets.map((s: any) => s.name).sort(), ["ADMIN_TOKEN", "REDIS_URL", "SESSION_SECRET", "SESSION_SECRET_PREVIOUS"]);
  t.notOk(c.environment.some((e: any) => /SECRET|TOKEN/.test(e.name)), "none of them in plain environment");
  const env = Object.fromEntries(c.environment.map((e: any) => [e.name, e.value]));
  t.equal(env.ALLOWED_ORIGINS, "https://canvas.example.com");
});
