// Pure helpers of the program, and the harness's CloudFront path matching
// the behaviour tests rely on.
import t from "tap";
import { ecrRepositoryArn } from "../image.js";
import { subnetCidr } from "../network.js";
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
