// Tessera on AWS: one `pulumi up` builds the whole system.
//
//   viewers -> CloudFront -> ALB (public subnets) -> Fargate tasks (private)
//                                                    |-> ElastiCache Redis
//                                                    |-> DynamoDB history
//
// Every setting is read here, at the top; the modules take plain values.
// docs/deploy.md lists each key, its default and why.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createCdn } from "./cdn.js";
import { createAppSecret, createRoles } from "./iam.js";
import { createImage } from "./image.js";
import { createLoadBalancer } from "./loadbalancer.js";
import { createInterfaceEndpoints, createNetwork } from "./network.js";
import { createRedis } from "./redis.js";
import { createSecurityGroups } from "./security.js";
import { createLogGroup, createService } from "./service.js";
import { createHistoryTable } from "./table.js";

const config = new pulumi.Config();

// Image: a prebuilt ECR image, or a tag pushed to this stack's repository.
const imageUri = config.get("imageUri");
const imageTag = config.get("imageTag");
const keepImages = config.getNumber("keepImages", { min: 1 }) ?? 30;

// Tasks. 1 vCPU / 2 GB holds ~20-25k WebSockets (docs/deploy.md, cost).
const cpu = config.getNumber("cpu") ?? 1024;
const memory = config.getNumber("memory") ?? 2048;
const cpuArchitecture = config.get("cpuArchitecture") ?? "X86_64";
const desiredCount = config.getNumber("desiredCount", { min: 1 }) ?? 2;
const minTasks = config.getNumber("minTasks", { min: 1 }) ?? 2;
const maxTasks = config.getNumber("maxTasks", { min: 1 }) ?? 20;
const memoryTargetPercent = config.getNumber("memoryTargetPercent", { min: 10, max: 95 }) ?? 70;
const stopTimeout = config.getNumber("stopTimeoutSeconds", { min: 2, max: 120 }) ?? 30;

// Load balancer.
const albIdleTimeout = config.getNumber("albIdleTimeoutSeconds", { min: 300, max: 4000 }) ?? 600;
const deregistrationDelay = config.getNumber("deregistrationDelaySeconds", { min: 0, max: 3600 }) ?? 15;
const albCertificateArn = config.get("albCertificateArn");
const originDomainName = config.get("originDomainName");

// CloudFront.
const domainName = config.get("domainName");
const cdnCertificateArn = config.get("cdnCertificateArn");
const priceClass = config.get("priceClass") ?? "PriceClass_100";

// Data stores and network.
const vpcCidr = config.get("vpcCidr") ?? "10.40.0.0/16";
const redisNodeType = config.get("redisNodeType") ?? "cache.r7g.large";
const redisReplicas = config.getNumber("redisReplicas", { min: 1, max: 5 }) ?? 1;
const redisSnapshotRetentionDays = config.getNumber("redisSnapshotRetentionDays", { min: 0, max: 35 }) ?? 1;
const tableDeletionProtection = config.getBoolean("tableDeletionProtection") ?? true;
const logRetentionDays = config.getNumber("logRetentionDays") ?? 30;

// Service settings passed through as environment variables.
const canvasWidth = config.getNumber("canvasWidth", { min: 1 }) ?? 1000;
const canvasHeight = config.getNumber("canvasHeight", { min: 1 }) ?? 1000;
const cooldownMs = config.getNumber("cooldownMs", { min: 0 }) ?? 300_000;
const logLevel = config.get("logLevel") ?? "info";
const allowedOrigins = config.get("allowedOrigins");

// Secrets (`pulumi config set --secret`). Checked when their values resolve.
const minBytes = (key: string, n: number) => (v: string) => {
  if (Buffer.byteLength(v, "utf8") < n) throw new Error(`config ${key} must be at least ${n} bytes`);
  return v;
};
const headerToken = (key: string) => (v: string) => {
  // Compared by the ALB's http-header condition, where * and ? are wildcards.
  if (!/^[A-Za-z0-9_-]{32,128}$/.test(v)) throw new Error(`config ${key} must be 32-128 chars of [A-Za-z0-9_-]`);
  return v;
};
const sessionSecret = config.requireSecret("sessionSecret").apply(minBytes("sessionSecret", 32));
const sessionSecretPrevious = config.getSecret("sessionSecretPrevious")?.apply(minBytes("sessionSecretPrevious", 32));
const adminToken = config.requireSecret("adminToken").apply(minBytes("adminToken", 16));
const originVerifyToken = config.requireSecret("originVerifyToken").apply(headerToken("originVerifyToken"));
const originVerifyTokenPrevious = config.getSecret("originVerifyTokenPrevious")?.apply(headerToken("originVerifyTokenPrevious"));

// Cross-key checks that can fail before anything is created.
if (!(minTasks <= desiredCount && desiredCount <= maxTasks)) {
  throw new Error(`need minTasks <= desiredCount <= maxTasks, got ${minTasks} <= ${desiredCount} <= ${maxTasks}`);
}
if (albCertificateArn && !(originDomainName && domainName)) {
  // CloudFront validates the origin certificate against originDomainName, or
  // against the viewer's Host where it forwards Host (the /api/* and /ws
  // behaviours forward all viewer headers), so the ALB certificate must cover
  // both names.
  throw new Error("albCertificateArn needs originDomainName and domainName (both covered by the certificate)");
}

const name = "tessera";
const containerPort = 8080;
const region = aws.getRegionOutput().region;

const network = createNetwork({ name, cidr: vpcCidr, azCount: 2 });
const sgs = createSecurityGroups({
  name,
  vpcId: network.vpc.id,
  containerPort,
  https: !!albCertificateArn,
  gatewayPrefixListIds: network.gatewayPrefixListIds,
});
createInterfaceEndpoints(name, network, sgs.endpoints.id);

const redis = createRedis({
  name,
  nodeType: redisNodeType,
  replicas: redisReplicas,
  subnetIds: network.privateSubnetIds,
  securityGroupId: sgs.redis.id,
  snapshotRetentionDays: redisSnapshotRetentionDays,
});
const table = createHistoryTable({ name, deletionProtection: tableDeletionProtection });
const image = createImage({ name, imageUri, imageTag, keepImages });
const logGroup = createLogGroup(name, logRetentionDays);
const appSecret = createAppSecret({ name, sessionSecret, sessionSecretPrevious, adminToken });
const roles = createRoles({
  name,
  tableArn: table.arn,
  secretArn: appSecret.secret.arn,
  logGroupArn: logGroup.arn,
  ecrRepositoryArns: image.repositoryArns,
});

const lb = createLoadBalancer({
  name,
  vpcId: network.vpc.id,
  subnetIds: network.publicSubnetIds,
  securityGroupId: sgs.alb.id,
  containerPort,
  idleTimeout: albIdleTimeout,
  deregistrationDelay,
  certificateArn: albCertificateArn,
  originVerifyTokens: originVerifyTokenPrevious ? [originVerifyToken, originVerifyTokenPrevious] : [originVerifyToken],
});

const cdn = createCdn({
  name,
  originDomainName: originDomainName ?? lb.alb.dnsName,
  originHttps: !!albCertificateArn,
  originVerifyToken,
  priceClass,
  domainName,
  certificateArn: cdnCertificateArn,
});

const svc = createService({
  name,
  image: image.image,
  cpu,
  memory,
  cpuArchitecture,
  desiredCount,
  minTasks,
  maxTasks,
  memoryTargetPercent,
  containerPort,
  stopTimeout,
  logRetentionDays,
  logGroup,
  environment: {
    PORT: String(containerPort),
    CANVAS_WIDTH: String(canvasWidth),
    CANVAS_HEIGHT: String(canvasHeight),
    COOLDOWN_MS: String(cooldownMs),
    REDIS_URL: redis.url,
    DYNAMODB_TABLE: table.name,
    AWS_REGION: region,
    DATA_DIR: "/tmp/tessera",
    LOG_LEVEL: logLevel,
    ALLOWED_ORIGINS: allowedOrigins ?? cdn.url,
    // Viewer -> CloudFront -> ALB -> task: the client address is the one
    // CloudFront appended, two hops from the right of X-Forwarded-For.
    TRUSTED_PROXY_HOPS: "2",
  },
  secrets: appSecret.valueFrom,
  taskRoleArn: roles.taskRole.arn,
  executionRoleArn: roles.executionRole.arn,
  subnetIds: network.privateSubnetIds,
  securityGroupId: sgs.tasks.id,
  targetGroupArn: lb.targetGroup.arn,
  dependsOn: lb.rules,
});

export const url = cdn.url;
export const albName = lb.alb.name;
export const tableName = table.name;
export const albDnsName = lb.alb.dnsName;
export const imageRepositoryUrl = image.repository?.repositoryUrl;
export const clusterName = svc.cluster.name;
export const serviceName = svc.service.name;
