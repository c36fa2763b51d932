// Pure helpers of the program, and the harness's CloudFront path matching
// the behaviour tests rely on.
import t from "tap";
import { parseAdminCidrs } from "../admin.js";
import { ecrRepositoryArn } from "../image.js";
import { subnetCidr } from "../network.js";
import { checkRedisAuthToken } from "../redis.js";
import { checkFargateSize } from "../service.js";
import { pathPatternMatches } from "./fixtures/harness.js";

t.test("subnetCidr carves /20s out of a /16 like Terraform's cidrsubnet", async (t) => {
  t.equal(subnetCidr("10.40.0.0/16", 4, 0), "10.40.0.0/20");
  t.equal(subnetCidr("10.40.0.0/16", 4, 1), "10.40.16.0/20");
  t.equal(subnetCidr("10.40.0.0/16", 4, 8), "10.40.128.0/20");
  t.equal(subnetCidr("10.40.0.0/16", 4, 9), "10.40.144.0/20");
  t.equal(subnetCidr("172.16.32.0/20", 4, 3), "172.16.35.0/24");
  t.equal(subnetCidr("10.40.7.9/16", 4, 0), "10.40.0.0/20", "host bits ignored");
  t.throws(() => subnetCidr("10.40.0.0/16", 4, 16), /cannot take subnet/);
  t.throws(() => subnetCidr("10.400.0.0/16", 4, 0), /invalid IPv4/);
});

t.test("ecrRepositoryArn accepts ECR images only", async (t) => {
  t.equal(
    ecrRepositoryArn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/tessera:abc"),
    "arn:aws:ecr:eu-west-1:123456789012:repository/tessera",
  );
  t.equal(
    ecrRepositoryArn(`123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b@sha256:${"0".repeat(64)}`),
    "arn:aws:ecr:us-east-1:123456789012:repository/a/b",
  );
  t.throws(() => ecrRepositoryArn("node:20-bookworm-slim"), /must be an ECR image/, "Docker Hub is unreachable without NAT");
  t.throws(() => ecrRepositoryArn("123456789012.dkr.ecr.us-east-1.amazonaws.com/tessera"), /tag or digest/, "untagged");
});

t.test("checkFargateSize", async (t) => {
  t.doesNotThrow(() => checkFargateSize(1024, 2048));
  t.doesNotThrow(() => checkFargateSize(4096, 30720));
  t.doesNotThrow(() => checkFargateSize(256, 2048));
  t.throws(() => checkFargateSize(256, 1536));
  t.throws(() => checkFargateSize(1024, 1024));
  t.throws(() => checkFargateSize(1000, 2048));
});

t.test("pathPatternMatches follows CloudFront's wildcards", async (t) => {
  t.ok(pathPatternMatches("/api/*", "/api/pixel"));
  t.notOk(pathPatternMatches("/api/*", "/apix"));
  t.ok(pathPatternMatches("/ws*", "/ws"));
  t.ok(pathPatternMatches("/api/board", "/api/board"));
  t.notOk(pathPatternMatches("/api/board", "/api/boards"));
  t.ok(pathPatternMatches("/a?c", "/abc"));
  t.notOk(pathPatternMatches("/a.c", "/abc"), "dots are literal");
  t.notOk(pathPatternMatches("/Metrics*", "/metrics"), "case-sensitive");
});

t.test("parseAdminCidrs splits by family and refuses what WAF would, or what opens admin to all", async (t) => {
  t.same(parseAdminCidrs(undefined), { ipv4: [], ipv6: [] });
  t.same(parseAdminCidrs("  "), { ipv4: [], ipv6: [] }, "blank: closed");
  t.same(parseAdminCidrs("203.0.113.0/24 198.51.100.7/32,2001:db8::/32"), { ipv4: ["203.0.113.0/24", "198.51.100.7/32"], ipv6: ["2001:db8::/32"] });
  t.same(parseAdminCidrs("::ffff:203.0.113.0/120").ipv6, ["::ffff:203.0.113.0/120"], "embedded IPv4");
  t.throws(() => parseAdminCidrs("2001:db8::1/64"), /host bits/);
  t.throws(() => parseAdminCidrs("::/0"), /would allow every address/);
  t.throws(() => parseAdminCidrs("example.com/24"), /not an IPv4 or IPv6/);
});

t.test("checkRedisAuthToken: what ElastiCache accepts and a URL carries unescaped", async (t) => {
  t.throws(() => checkRedisAuthToken("short"), /redisAuthToken must be 32-128 of \[A-Za-z0-9-\]/);
  t.throws(() => checkRedisAuthToken(`${"a".repeat(40)}@x`), /redisAuthToken/, "an @ would break the URL and ElastiCache");
  t.equal(checkRedisAuthToken("0123456789abcdef".repeat(4)), "0123456789abcdef".repeat(4), "openssl rand -hex 32");
});
