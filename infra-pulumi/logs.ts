// Access logs of the edge: CloudFront standard logs and ALB access logs, each in a bucket in the
// stack's region (the ALB can only log to its own region), private, SSE-S3 encrypted (the only
// encryption ALB delivery supports), TLS-only, expired after accessLogRetentionDays.
//
// Two buckets, because the two deliveries need opposite ownership settings. CloudFront's standard
// logging writes through ACLs: the bucket must have ACLs enabled and grant the awslogsdelivery
// account FULL_CONTROL. ALB delivery needs only a bucket policy, so its bucket keeps ACLs off
// (BucketOwnerEnforced: every object belongs to this account).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export const CDN_LOG_PREFIX = "cloudfront/";
/** ALB prefixes have no trailing slash; it appends /AWSLogs/<account>/... itself. */
export const ALB_LOG_PREFIX = "alb";
/**
 * The ALB's log writer: the service principal in regions opened since August 2022, the regional
 * ELB account in older ones. The policy names both (where the region has an ELB account).
 */
export const ALB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com";

export interface AccessLogsArgs {
  name: string;
  retentionDays: number;
}

export interface AccessLogs {
  cdnBucket: aws.s3.Bucket;
  albBucket: aws.s3.Bucket;
  /** CloudFront refuses a logging bucket whose ACL does not let it write: enable logging after these. */
  cdnReady: pulumi.Resource[];
  /** The ALB tests its write access when logging is enabled: enable it after the policy. */
  albReady: pulumi.Resource[];
}

function logBucket(name: string, retentionDays: number, objectOwnership: string) {
  const bucket = new aws.s3.Bucket(name, { forceDestroy: false });
  const ownership = new aws.s3.BucketOwnershipControls(name, { bucket: bucket.id, rule: { objectOwnership } });
  const publicAccess = new aws.s3.BucketPublicAccessBlock(name, {
    bucket: bucket.id,
    blockPublicAcls: true,
    ignorePublicAcls: true,
    blockPublicPolicy: true,
    restrictPublicBuckets: true,
  });
  new aws.s3.BucketServerSideEncryptionConfiguration(name, {
    bucket: bucket.id,
    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
  });
  new aws.s3.BucketLifecycleConfiguration(name, {
    bucket: bucket.id,
    rules: [
      {
        id: "expire-access-logs",
        status: "Enabled",
        filter: {},
        expiration: { days: retentionDays },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      },
    ],
  });
  return { bucket, ownership, publicAccess };
}

/** Refuses plain-HTTP access to the bucket, whoever asks (log delivery uses TLS). */
const tlsOnly = (bucketArn: string) => ({
  Sid: "TlsOnly",
  Effect: "Deny",
  Principal: "*",
  Action: "s3:*",
  Resource: [bucketArn, `${bucketArn}/*`],
  Condition: { Bool: { "aws:SecureTransport": "false" } },
});

export function createAccessLogs(args: AccessLogsArgs): AccessLogs {
  const { name } = args;
  if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1) {
    throw new Error(`accessLogRetentionDays must be a whole number of days ≥ 1, got ${args.retentionDays}`);
  }
  const accountId = aws.getCallerIdentityOutput().accountId;

  // CloudFront: ACLs enabled (BucketOwnerPreferred: log files written with bucket-owner-full-control
  // become this account's), and the grant CloudFront would otherwise add to the ACL by itself,
  // written out so that a refresh never finds it drifted and strips it.
  const cdn = logBucket(`${name}-cdn-logs`, args.retentionDays, "BucketOwnerPreferred");
  const owner = aws.s3.getCanonicalUserIdOutput().id;
  const logDelivery = aws.cloudfront.getLogDeliveryCanonicalUserIdOutput().id;
  const cdnAcl = new aws.s3.BucketAcl(
    `${name}-cdn-logs`,
    {
      bucket: cdn.bucket.id,
      accessControlPolicy: {
        owner: { id: owner },
        grants: [
          { grantee: { type: "CanonicalUser", id: owner }, permission: "FULL_CONTROL" },
          { grantee: { type: "CanonicalUser", id: logDelivery }, permission: "FULL_CONTROL" },
        ],
      },
    },
    { dependsOn: [cdn.ownership, cdn.publicAccess] },
  );
  const cdnPolicy = new aws.s3.BucketPolicy(
    `${name}-cdn-logs`,
    {
      bucket: cdn.bucket.id,
      policy: cdn.bucket.arn.apply((arn) => JSON.stringify({ Version: "2012-10-17", Statement: [tlsOnly(arn)] })),
    },
    { dependsOn: [cdn.publicAccess] },
  );

  // ALB: bucket policy only. getServiceAccount knows the regions that have an ELB account and
  // fails for the newer ones, where the service principal alone is right.
  const alb = logBucket(`${name}-alb-logs`, args.retentionDays, "BucketOwnerEnforced");
  const elbAccount = pulumi.output(aws.elb.getServiceAccount({}).then((a) => a.arn, () => undefined));
  const albPolicy = new aws.s3.BucketPolicy(
    `${name}-alb-logs`,
    {
      bucket: alb.bucket.id,
      policy: pulumi.all([alb.bucket.arn, accountId, elbAccount]).apply(([arn, account, elb]) => {
        const objects = `${arn}/${ALB_LOG_PREFIX}/AWSLogs/${account}/*`;
        const write = (Sid: string, Principal: Record<string, string>) => ({ Sid, Effect: "Allow", Principal, Action: "s3:PutObject", Resource: objects });
        const writers = [write("AlbLogDelivery", { Service: ALB_LOG_DELIVERY_SERVICE })];
        if (elb) writers.push(write("AlbLogDeliveryLegacy", { AWS: elb }));
        return JSON.stringify({ Version: "2012-10-17", Statement: [...writers, tlsOnly(arn)] });
      }),
    },
    { dependsOn: [alb.publicAccess, alb.ownership] },
  );

  return { cdnBucket: cdn.bucket, albBucket: alb.bucket, cdnReady: [cdnAcl, cdnPolicy, cdn.ownership], albReady: [albPolicy] };
}
