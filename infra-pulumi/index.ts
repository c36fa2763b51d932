// Tessera on AWS: one `pulumi up` builds the whole system.
//
//   viewers -> CloudFront + WAF -> ALB (public subnets) -> Fargate tasks (private)
//                                                    |-> ElastiCache Redis
//                                                    |-> DynamoDB history
//
// Every setting is read here, at the top; the modules take plain values.
// docs/deploy.md lists each key, its default and why.
//
// Capacity. One figure is measured; the rest is derived from it (capacity.ts), and the
// same table is in docs/capacity.md and docs/deploy.md (test/autoscaling.test.ts keeps them equal):
//
//   watchers per vCPU          | 18,000 | measured: see bench/RESULTS.md 'watchers' (one 1-vCPU task,
//                                         1,000 placements/s, p99 placement→frame ≤ 1 s)
//   CPU target                 | 75 %   | cpuTargetPercent; also the share of that figure a task is planned at
//   watchers per task          | 13,500 | watchers per vCPU × CPU target
//   tasks for 300,000 watchers | 23     | ceil(300,000 / watchers per task), 12 + 11 per AZ
//   maxTasks default           | 35     | tasks for 300,000 + one AZ's worth (12); follows cpuTargetPercent
//
// Why 75 %: the frame pacer spends a task's FANOUT_FRAME_BUDGET whatever its watcher count (more
// watchers get longer frame intervals, not more frames), so a serving task sits near the CPU that
// budget costs, and adding tasks does not lower it. Measured on one pinned core at 1,000 placements/s
// and ~35-38k frames/s (bench/RESULTS.md 'watchers'): 59 % at 10,000 watchers, 67 % at 18,000. The
// target has to sit above that, or target tracking would climb to maxTasks, and below saturation
// with room for what does push CPU up: reconnect storms (a lost task's watchers upgrading and
// replaying ?since= elsewhere), GC, placement bursts. What pacing hides from CPU is the watcher count;
// scaling on it needs tessera_ws_clients in CloudWatch (docs/deploy.md, "Sizing and autoscaling").
// Until then minTasks carries the expected audience: 23 for 300,000 (Pulumi.example.yaml).
// Deploys need no room under maxTasks (new tasks start beside the old, up to 200 %), only vCPU quota.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { adminMark, adminOpen, parseAdminCidrs } from "./admin.js";
import { planCapacity } from "./capacity.js";
import { ALARM_KEYS, createAlarms } from "./alarms.js";
import { HTTP_ORIGIN_WARNING, createCdn } from "./cdn.js";
import { createDashboard } from "./dashboard.js";
import { createAppSecret, createRoles } from "./iam.js";
import { createImage } from "./image.js";
import { createLoadBalancer } from "./loadbalancer.js";
import { createAccessLogs } from "./logs.js";
import { createInterfaceEndpoints, createNetwork } from "./network.js";
import { checkRedisAuthToken, createRedis } from "./redis.js";
import { createSecurityGroups } from "./security.js";
import { createLogGroup, createService } from "./service.js";
import { INDEX_NAMES, createHistoryTable, createKeyframeTable } from "./table.js";
import { createWaf } from "./waf.js";
import { resolveWatched, type Thresholds } from "./watched.js";

const config = new pulumi.Config();

// Image: a prebuilt ECR image, or a tag pushed to this stack's repository.
const imageUri = config.get("imageUri");
const imageTag = config.get("imageTag");
const keepImages = config.getNumber("keepImages", { min: 1 }) ?? 30;

// Tasks: 1 vCPU (the fan-out is one thread), 2 GiB (the smallest size with 1 vCPU; a task at the
// measured figure uses ~0.3 GiB, docs/capacity.md "Memory").
const WATCHERS_PER_VCPU = 18_000; // measured: see bench/RESULTS.md 'watchers'
const SIZED_FOR_WATCHERS = 300_000;
const AZ_COUNT = 2;
const cpu = config.getNumber("cpu") ?? 1024;
const memory = config.getNumber("memory") ?? 2048;
const cpuArchitecture = config.get("cpuArchitecture") ?? "X86_64";
const desiredCount = config.getNumber("desiredCount", { min: 1 }) ?? 2;
const minTasks = config.getNumber("minTasks", { min: 1 }) ?? 2;
const cpuTargetPercent = config.getNumber("cpuTargetPercent", { min: 10, max: 95 }) ?? 75;
const plan = planCapacity({
  watchers: SIZED_FOR_WATCHERS,
  watchersPerVcpu: WATCHERS_PER_VCPU,
  targetPercent: cpuTargetPercent,
  azCount: AZ_COUNT,
});
const maxTasks = config.getNumber("maxTasks", { min: 1 }) ?? plan.maxTasks;
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

// Edge security (docs/deploy.md "Edge security"). WAF rate limits count requests per viewer address
// per 5 minutes, and back up the service's own per-minute limits where a flood is cheapest to drop.
// Players behind one NAT share a budget: a player needs ~1 session, ~1 placement and a few upgrades.
const wafSessionRatePer5Min = config.getNumber("wafSessionRatePer5Min", { min: 10, max: 2e9 }) ?? 300;
const wafPixelRatePer5Min = config.getNumber("wafPixelRatePer5Min", { min: 10, max: 2e9 }) ?? 3000;
const wafWsRatePer5Min = config.getNumber("wafWsRatePer5Min", { min: 10, max: 2e9 }) ?? 600;
// Networks that may reach /api/admin/* (comma-separated CIDRs); unset: nobody, from anywhere.
const adminAllowCidrs = parseAdminCidrs(config.get("adminAllowCidrs"));
// CloudFront and ALB access logs, S3, expired after this many days.
const accessLogRetentionDays = config.getNumber("accessLogRetentionDays", { min: 1, max: 3650 }) ?? 90;

// Data stores and network.
const vpcCidr = config.get("vpcCidr") ?? "10.40.0.0/16";
const redisNodeType = config.get("redisNodeType") ?? "cache.r7g.large";
const redisReplicas = config.getNumber("redisReplicas", { min: 1, max: 5 }) ?? 1;
const redisSnapshotRetentionDays = config.getNumber("redisSnapshotRetentionDays", { min: 0, max: 35 }) ?? 1;
// ROTATE while a new redisAuthToken rolls out (old and new both valid), then SET to drop the old one.
const redisAuthTokenUpdateStrategy = config.get("redisAuthTokenUpdateStrategy") ?? "ROTATE";
const tableDeletionProtection = config.getBoolean("tableDeletionProtection") ?? true;
const logRetentionDays = config.getNumber("logRetentionDays") ?? 30;

// Service settings passed through as environment variables.
const canvasWidth = config.getNumber("canvasWidth", { min: 1 }) ?? 1000;
const canvasHeight = config.getNumber("canvasHeight", { min: 1 }) ?? 1000;
const cooldownMs = config.getNumber("cooldownMs", { min: 0 }) ?? 300_000;
const logLevel = config.get("logLevel") ?? "info";
const allowedOrigins = config.get("allowedOrigins");
// Also the `Canvas` dimension of the service's metrics, which the dashboard and alarms select on.
const canvasId = config.get("canvasId") ?? "main";
if (!/^[A-Za-z0-9_-]{1,32}$/.test(canvasId)) throw new Error(`config canvasId must be 1-32 of [A-Za-z0-9_-], got "${canvasId}"`);

// Dashboard and alarms (docs/deploy.md "Dashboard and alarms" and "Runbook"). Without alarmEmail the
// SNS topic has no subscriber: subscribe a pager or chat integration to the alarmTopicArn output.
const alarmEmail = config.get("alarmEmail");
const thresholds: Thresholds = {
  placementP99Ms: config.getNumber("alarmPlacementP99Ms", { min: 1, max: 60_000 }) ?? 500,
  http5xxPercent: config.getNumber("alarm5xxPercent", { min: 0.01, max: 100 }) ?? 1,
  redisCpuPercent: config.getNumber("alarmRedisCpuPercent", { min: 1, max: 99 }) ?? 70,
  redisMemoryPercent: config.getNumber("alarmRedisMemoryPercent", { min: 1, max: 99 }) ?? 80,
  replicationLagSeconds: config.getNumber("alarmReplicationLagSeconds", { min: 1, max: 3600 }) ?? 5,
  backlogAgeSeconds: config.getNumber("alarmBacklogAgeSeconds", { min: 10, max: 86_400 }) ?? 300,
  // One evaluation period per minute; CloudWatch looks back at most a day.
  idleMinutes: config.getNumber("alarmIdleMinutes", { min: 1, max: 1440 }) ?? 10,
};
if (!Number.isInteger(thresholds.idleMinutes)) {
  throw new Error(`config alarmIdleMinutes must be a whole number of minutes, got ${thresholds.idleMinutes}`);
}

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
// Web Push for project damage alerts: all three or none (the service refuses a partial set at start).
const vapid = { publicKey: config.get("vapidPublicKey"), privateKey: config.getSecret("vapidPrivateKey"), subject: config.get("vapidSubject") };
if (new Set([!vapid.publicKey, !vapid.privateKey, !vapid.subject]).size > 1) throw new Error("config vapidPublicKey, vapidPrivateKey and vapidSubject go together (npx web-push generate-vapid-keys)");
const originVerifyToken = config.requireSecret("originVerifyToken").apply(headerToken("originVerifyToken"));
const originVerifyTokenPrevious = config.getSecret("originVerifyTokenPrevious")?.apply(headerToken("originVerifyTokenPrevious"));
const redisAuthToken = config.requireSecret("redisAuthToken").apply(checkRedisAuthToken);

// Cross-key checks that can fail before anything is created.
if (maxTasks < minTasks) {
  throw new Error(`config maxTasks (${maxTasks}) must be at least minTasks (${minTasks})`);
}
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
if (originDomainName && !albCertificateArn) {
  // The name exists to be checked against the ALB's certificate; without one it only hides that
  // the origin is plain HTTP.
  throw new Error("originDomainName needs albCertificateArn: CloudFront connects to that name over HTTPS");
}
if (!albCertificateArn) pulumi.log.warn(HTTP_ORIGIN_WARNING);

const name = "tessera";
const containerPort = 8080;
const region = aws.getRegionOutput().region;

const network = createNetwork({ name, cidr: vpcCidr, azCount: AZ_COUNT });
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
  authToken: redisAuthToken,
  authTokenUpdateStrategy: redisAuthTokenUpdateStrategy,
});
const table = createHistoryTable({ name, deletionProtection: tableDeletionProtection });
const keyframes = createKeyframeTable({ name, deletionProtection: tableDeletionProtection });
const image = createImage({ name, imageUri, imageTag, keepImages });
const logGroup = createLogGroup(name, logRetentionDays);
const appSecret = createAppSecret({ name, sessionSecret, sessionSecretPrevious, adminToken, redisUrl: redis.url, vapidPrivateKey: vapid.privateKey });
const roles = createRoles({
  name,
  tableArn: table.arn,
  keyframeTableArn: keyframes.arn,
  secretArn: appSecret.secret.arn,
  logGroupArn: logGroup.arn,
  ecrRepositoryArns: image.repositoryArns,
});

const accessLogs = createAccessLogs({ name, retentionDays: accessLogRetentionDays });
const originVerifyTokens = originVerifyTokenPrevious ? [originVerifyToken, originVerifyTokenPrevious] : [originVerifyToken];
const waf = createWaf({
  name,
  limits: { session: wafSessionRatePer5Min, pixel: wafPixelRatePer5Min, ws: wafWsRatePer5Min },
  adminCidrs: adminAllowCidrs,
  adminMark: adminMark(originVerifyToken),
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
  originVerifyTokens,
  adminMarks: adminOpen(adminAllowCidrs) ? originVerifyTokens.map(adminMark) : [],
  accessLogBucket: accessLogs.albBucket.bucket,
  accessLogReady: accessLogs.albReady,
});

const cdn = createCdn({
  name,
  originDomainName: originDomainName ?? lb.alb.dnsName,
  originHttps: !!albCertificateArn,
  originVerifyToken,
  priceClass,
  domainName,
  certificateArn: cdnCertificateArn,
  webAclArn: waf.webAcl.arn,
  logBucketDomainName: accessLogs.cdnBucket.bucketDomainName,
  logBucketReady: accessLogs.cdnReady,
  adminOpen: adminOpen(adminAllowCidrs),
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
  cpuTargetPercent,
  containerPort,
  stopTimeout,
  logRetentionDays,
  logGroup,
  environment: {
    PORT: String(containerPort),
    CANVAS_WIDTH: String(canvasWidth),
    CANVAS_HEIGHT: String(canvasHeight),
    CANVAS_ID: canvasId,
    COOLDOWN_MS: String(cooldownMs),
    DYNAMODB_TABLE: table.name,
    KEYFRAME_TABLE: keyframes.name,
    ...(vapid.publicKey && vapid.subject ? { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_SUBJECT: vapid.subject } : {}),
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

const watched = resolveWatched({
  region,
  canvasId,
  clusterName: svc.cluster.name,
  serviceName: svc.service.name,
  albArnSuffix: lb.alb.arnSuffix,
  targetGroupArnSuffix: lb.targetGroup.arnSuffix,
  cacheClusterIds: redis.group.memberClusters,
  tableName: table.name,
  tableIndexNames: INDEX_NAMES,
  distributionId: cdn.distribution.id,
});
const alarms = createAlarms({ name, watched, thresholds, maxTasks, alarmEmail });
const dashboard = createDashboard({
  dashboardName: `${name}-${pulumi.getStack().replace(/[^A-Za-z0-9_-]/g, "-")}`,
  watched,
  thresholds,
  maxTasks,
  cpuTargetPercent,
  memoryTargetPercent,
  alarmArns: ALARM_KEYS.map((k) => alarms.alarms[k].arn),
});

export const url = cdn.url;
export const albName = lb.alb.name;
export const tableName = table.name;
export const albDnsName = lb.alb.dnsName;
export const imageRepositoryUrl = image.repository?.repositoryUrl;
export const clusterName = svc.cluster.name;
export const serviceName = svc.service.name;
export const redisReplicationGroupId = redis.group.id;
export const logGroupName = logGroup.name;
export const alarmTopicArn = alarms.topic.arn;
export const webAclArn = waf.webAcl.arn;
export const accessLogBuckets = { cloudfront: accessLogs.cdnBucket.bucket, alb: accessLogs.albBucket.bucket };
export const dashboardUrl = pulumi.interpolate`https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${dashboard.dashboardName}`;
