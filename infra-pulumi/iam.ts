// The application secret and the two ECS roles.
//
// - Task role (what the service's code may do): exactly the DynamoDB calls
//   the history writer/reader makes, on the history table and its indexes,
//   and the keyframe writer's, on the keyframe table.
//   Redis is reached by network (security group), not IAM.
// - Execution role (what ECS does before the code runs): pull the image, write
//   the log stream, read the one application secret (session secret, admin
//   token, REDIS_URL with the Redis AUTH token) into the container.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The service's DynamoDB calls; nothing else (no CreateTable: Pulumi owns it). */
export const TASK_DYNAMODB_ACTIONS = [
  "dynamodb:BatchWriteItem",
  "dynamodb:PutItem",
  "dynamodb:Query",
  "dynamodb:DescribeTable",
];

/** The keyframe writer and the history routes (timetravel/dynamo-store.ts): whole items, no batch. */
export const TASK_KEYFRAME_ACTIONS = ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:DescribeTable"];

export interface AppSecretArgs {
  name: string;
  sessionSecret: pulumi.Output<string>;
  sessionSecretPrevious?: pulumi.Output<string>;
  adminToken: pulumi.Output<string>;
  /** Carries the Redis AUTH token, so it is a secret too. */
  redisUrl: pulumi.Output<string>;
  /** Web Push's signing key (project damage alerts), when configured. */
  vapidPrivateKey?: pulumi.Output<string>;
}

export interface AppSecret {
  secret: aws.secretsmanager.Secret;
  /** Container env name -> ECS `valueFrom` (secret ARN + JSON key). */
  valueFrom: Record<string, pulumi.Output<string>>;
}

/**
 * One Secrets Manager secret holding a JSON object, so the execution role
 * needs GetSecretValue on a single ARN. Values come from `pulumi config set
 * --secret` and are encrypted in the stack state; ECS injects them as env
 * vars at container start, so they never appear in the task definition.
 */
export function createAppSecret(args: AppSecretArgs): AppSecret {
  const secret = new aws.secretsmanager.Secret(`${args.name}-app`, {
    description: "Tessera SESSION_SECRET / ADMIN_TOKEN / REDIS_URL (JSON)",
    recoveryWindowInDays: 7,
  });
  const values: Record<string, pulumi.Output<string>> = {
    SESSION_SECRET: args.sessionSecret,
    ADMIN_TOKEN: args.adminToken,
    REDIS_URL: args.redisUrl,
  };
  // Only reference keys that exist: ECS refuses to start a task whose secret
  // JSON lacks a referenced key.
  if (args.sessionSecretPrevious) values.SESSION_SECRET_PREVIOUS = args.sessionSecretPrevious;
  if (args.vapidPrivateKey) values.VAPID_PRIVATE_KEY = args.vapidPrivateKey;

  const version = new aws.secretsmanager.SecretVersion(`${args.name}-app`, {
    secretId: secret.id,
    // The provider marks secretString secret: encrypted in the stack state.
    secretString: pulumi.jsonStringify(values),
  });

  const valueFrom: Record<string, pulumi.Output<string>> = {};
  for (const key of Object.keys(values)) {
    // <arn>:<json-key>:<version-stage>:<version-id>. Pinning the version id
    // makes a secret change roll the task definition (and so the tasks).
    valueFrom[key] = pulumi.interpolate`${secret.arn}:${key}::${version.versionId}`;
  }
  return { secret, valueFrom };
}

export interface RolesArgs {
  name: string;
  tableArn: pulumi.Input<string>;
  keyframeTableArn: pulumi.Input<string>;
  secretArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  ecrRepositoryArns: pulumi.Input<string>[];
}

export interface Roles {
  taskRole: aws.iam.Role;
  executionRole: aws.iam.Role;
}

export function createRoles(args: RolesArgs): Roles {
  const { name } = args;
  const accountId = aws.getCallerIdentityOutput().accountId;
  // Confused-deputy guard: only ECS acting for this account may assume.
  const assumeRolePolicy = pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  });

  const taskRole = new aws.iam.Role(`${name}-task`, {
    description: "Tessera service code: history and keyframe tables only",
    assumeRolePolicy,
  });
  new aws.iam.RolePolicy(`${name}-task-dynamodb`, {
    role: taskRole.id,
    policy: pulumi.jsonStringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "HistoryTable",
          Effect: "Allow",
          Action: TASK_DYNAMODB_ACTIONS,
          Resource: [args.tableArn, pulumi.interpolate`${args.tableArn}/index/*`],
        },
        { Sid: "KeyframeTable", Effect: "Allow", Action: TASK_KEYFRAME_ACTIONS, Resource: args.keyframeTableArn },
      ],
    }),
  });

  const executionRole = new aws.iam.Role(`${name}-execution`, {
    description: "ECS agent for Tessera: image pull, logs, app secret",
    assumeRolePolicy,
  });
  const statements: unknown[] = [
    {
      Sid: "LogStream",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: pulumi.interpolate`${args.logGroupArn}:log-stream:*`,
    },
    {
      Sid: "AppSecret",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: args.secretArn,
    },
  ];
  if (args.ecrRepositoryArns.length > 0) {
    statements.push(
      // GetAuthorizationToken is account-wide by design; it grants no image access by itself.
      { Sid: "EcrAuth", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
      {
        Sid: "EcrPull",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        Resource: args.ecrRepositoryArns,
      },
    );
  }
  new aws.iam.RolePolicy(`${name}-execution`, {
    role: executionRole.id,
    policy: pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements }),
  });

  return { taskRole, executionRole };
}
