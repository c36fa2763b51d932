// ECS on Fargate: log group, cluster, task definition, service, autoscaling.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export const CONTAINER_NAME = "tessera";

/**
 * Container health check, run by ECS inside the container. The slim image has
 * no curl, so node (global fetch) does the request. ECS ignores the image's
 * Docker HEALTHCHECK, hence the repetition.
 */
export const HEALTHCHECK_SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz')" +
  ".then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))";

export interface ServiceArgs {
  name: string;
  image: pulumi.Input<string>;
  cpu: number;
  memory: number;
  cpuArchitecture: string;
  desiredCount: number;
  minTasks: number;
  maxTasks: number;
  memoryTargetPercent: number;
  cpuTargetPercent: number;
  containerPort: number;
  stopTimeout: number;
  logRetentionDays: number;
  environment: Record<string, pulumi.Input<string>>;
  secrets: Record<string, pulumi.Input<string>>;
  taskRoleArn: pulumi.Input<string>;
  executionRoleArn: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  targetGroupArn: pulumi.Input<string>;
  /** The listener rules forwarding to the target group must exist first. */
  dependsOn: pulumi.Resource[];
  logGroup: aws.cloudwatch.LogGroup;
}

/** Fargate's valid task sizes: cpu units -> memory MiB range and step. */
const FARGATE_SIZES: Record<number, [min: number, max: number, step: number]> = {
  256: [512, 2048, 512], // 512, 1024 or 2048 only; 1536 is excluded below
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

export function checkFargateSize(cpu: number, memory: number): void {
  const size = FARGATE_SIZES[cpu];
  const ok =
    size !== undefined &&
    memory >= size[0] &&
    memory <= size[1] &&
    (memory - size[0]) % size[2] === 0 &&
    !(cpu === 256 && memory === 1536);
  if (!ok) throw new Error(`cpu=${cpu} memory=${memory} is not a Fargate task size`);
}

export function createLogGroup(name: string, retentionInDays: number): aws.cloudwatch.LogGroup {
  // The service writes pino JSON to stdout; CloudWatch Logs Insights can
  // query its fields directly.
  return new aws.cloudwatch.LogGroup(`${name}-service`, { retentionInDays });
}

export interface Service {
  cluster: aws.ecs.Cluster;
  taskDefinition: aws.ecs.TaskDefinition;
  service: aws.ecs.Service;
  scalingTarget: aws.appautoscaling.Target;
  memoryPolicy: aws.appautoscaling.Policy;
  cpuPolicy: aws.appautoscaling.Policy;
}

export function createService(args: ServiceArgs): Service {
  const { name } = args;
  checkFargateSize(args.cpu, args.memory);
  const region = aws.getRegionOutput().region;

  const cluster = new aws.ecs.Cluster(`${name}`, {
    settings: [{ name: "containerInsights", value: "enabled" }],
  });

  const environment = Object.entries({
    ...args.environment,
    // Leave V8 headroom below the task's hard memory limit: an OOM-kill drops
    // every WebSocket on the task at once, a heap limit fails more gracefully.
    NODE_OPTIONS: `--max-old-space-size=${Math.floor(args.memory * 0.75)}`,
  })
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
  const secrets = Object.entries(args.secrets).map(([name, valueFrom]) => ({ name, valueFrom }));

  const taskDefinition = new aws.ecs.TaskDefinition(`${name}`, {
    family: name,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: String(args.cpu),
    memory: String(args.memory),
    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: args.cpuArchitecture },
    taskRoleArn: args.taskRoleArn,
    executionRoleArn: args.executionRoleArn,
    containerDefinitions: pulumi.jsonStringify([
      {
        name: CONTAINER_NAME,
        image: args.image,
        essential: true,
        portMappings: [{ containerPort: args.containerPort, protocol: "tcp", name: "http" }],
        environment,
        // Resolved by the ECS agent from Secrets Manager at container start;
        // the task definition only holds ARNs.
        secrets,
        healthCheck: {
          command: ["CMD", "node", "-e", HEALTHCHECK_SCRIPT],
          interval: 10,
          timeout: 5,
          retries: 3,
          startPeriod: 30,
        },
        // SIGTERM, then this many seconds before SIGKILL. The service drains
        // and exits within 10 s; 30 s leaves margin on a loaded task.
        stopTimeout: args.stopTimeout,
        // One file descriptor per WebSocket, plus Redis/HTTP. A task is planned at 13,500 watchers
        // and holds 18,000 within the latency target (WATCHERS_PER_VCPU, index.ts); the survivors of
        // an AZ loss take up to ~27,300 each until replacements start, and the pacer keeps serving up
        // to ~40,000 (FANOUT_FRAME_BUDGET × 1 s). 65,535 is 3.6 × the measured figure.
        ulimits: [{ name: "nofile", softLimit: 65535, hardLimit: 65535 }],
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": args.logGroup.name,
            "awslogs-region": region,
            "awslogs-stream-prefix": CONTAINER_NAME,
            // Default "blocking" mode stalls stdout writes - and with them the
            // event loop - whenever CloudWatch is slow; drop logs instead.
            mode: "non-blocking",
            "max-buffer-size": "25m",
          },
        },
      },
    ]),
  });

  const service = new aws.ecs.Service(
    `${name}`,
    {
      cluster: cluster.arn,
      taskDefinition: taskDefinition.arn,
      desiredCount: args.desiredCount,
      launchType: "FARGATE",
      platformVersion: "LATEST",
      networkConfiguration: {
        subnets: args.subnetIds,
        securityGroups: [args.securityGroupId],
        assignPublicIp: false,
      },
      loadBalancers: [
        { targetGroupArn: args.targetGroupArn, containerName: CONTAINER_NAME, containerPort: args.containerPort },
      ],
      // A deployment whose tasks keep failing health checks is stopped and the
      // previous task definition restored automatically.
      deploymentCircuitBreaker: { enable: true, rollback: true },
      // Start new tasks before stopping old ones: capacity never dips.
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      healthCheckGracePeriodSeconds: 30,
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      // `pulumi up` fails if the rollout (and so the circuit breaker) fails.
      waitForSteadyState: true,
    },
    {
      dependsOn: args.dependsOn,
      // Application Auto Scaling owns the running count after creation;
      // without this every `pulumi up` would reset it to desiredCount.
      ignoreChanges: ["desiredCount"],
    },
  );

  const scalingTarget = new aws.appautoscaling.Target(`${name}`, {
    serviceNamespace: "ecs",
    scalableDimension: "ecs:service:DesiredCount",
    resourceId: pulumi.interpolate`service/${cluster.name}/${service.name}`,
    minCapacity: args.minTasks,
    maxCapacity: args.maxTasks,
  });

  // Two target-tracking policies on one target: Application Auto Scaling scales out when either
  // asks and in only when both agree. The scale-in alarm already waits 15 minutes below target.
  const track = (suffix: string, metric: string, targetValue: number, scaleInCooldown: number) =>
    new aws.appautoscaling.Policy(`${name}-${suffix}`, {
      policyType: "TargetTrackingScaling",
      serviceNamespace: scalingTarget.serviceNamespace,
      scalableDimension: scalingTarget.scalableDimension,
      resourceId: scalingTarget.resourceId,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: metric },
        targetValue,
        // Short: a step that was too small is followed up a minute later (tasks still starting
        // count as added capacity, so this does not double-count them).
        scaleOutCooldown: 60,
        scaleInCooldown,
      },
    });

  // Memory follows what each open WebSocket pins (idle state, queued frames of slow readers):
  // the guard against backlogs and leaks. Scaling in disconnects every client on the removed task;
  // do it slowly.
  const memoryPolicy = track("memory", "ECSServiceAverageMemoryUtilization", args.memoryTargetPercent, 600);
  // CPU is what a task runs out of: reconnect storms, placement bursts, and watchers beyond what the
  // pacer can stretch to its longest interval. It decides scale-in in practice (memory stays low),
  // and every scale-in makes the stopped task's watchers reconnect elsewhere, a small storm of its
  // own: 15 minutes between steps lets that settle before the next is judged.
  const cpuPolicy = track("cpu", "ECSServiceAverageCPUUtilization", args.cpuTargetPercent, 900);

  return { cluster, taskDefinition, service, scalingTarget, memoryPolicy, cpuPolicy };
}
