// The container image. Either a prebuilt image from config (`imageUri`), or
// this stack's own ECR repository plus `imageTag`, pushed by
// `docker build && docker push` as docs/deploy.md describes. (Building inside
// `pulumi up` would need the Docker provider and a Docker engine on the
// deploying machine; a pushed, immutable tag is also what rollback points at.)
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ImageArgs {
  name: string;
  imageUri?: string;
  imageTag?: string;
  /** How many pushed images to keep: the rollback window. */
  keepImages: number;
}

export interface Image {
  /** What goes into the task definition's `image`. */
  image: pulumi.Output<string>;
  /** Created only when no imageUri is configured. */
  repository?: aws.ecr.Repository;
  /** ECR repositories the execution role may pull from. */
  repositoryArns: pulumi.Output<string>[];
}

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([a-z0-9][a-z0-9._\/-]*)(?::[\w.-]+|@sha256:[0-9a-f]{64})$/;

/** ARN of the ECR repository an image URI points into. */
export function ecrRepositoryArn(imageUri: string): string {
  const m = ECR_IMAGE.exec(imageUri);
  if (!m) {
    // The tasks have no internet egress (VPC endpoints only), so Docker Hub,
    // GHCR etc. are unreachable: fail at preview, not with a stuck deployment.
    throw new Error(
      `imageUri must be an ECR image with a tag or digest ` +
        `(<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>), got "${imageUri}"`,
    );
  }
  const [, account, region, cn, repo] = m;
  return `arn:${cn ? "aws-cn" : "aws"}:ecr:${region}:${account}:repository/${repo}`;
}

export function createImage(args: ImageArgs): Image {
  if (args.imageUri) {
    return {
      image: pulumi.output(args.imageUri),
      repositoryArns: [pulumi.output(ecrRepositoryArn(args.imageUri))],
    };
  }
  if (!args.imageTag) {
    throw new Error(
      "set either `imageUri` or `imageTag` (the tag you pushed to this stack's ECR repository); see docs/deploy.md",
    );
  }

  // Top-level resource with a fixed logical name, so its URN is predictable
  // for the bootstrap `pulumi up --target` in docs/deploy.md, and a physical
  // name per stack, so the push address is known before the first deploy.
  const repository = new aws.ecr.Repository(args.name, {
    name: `${args.name}-${pulumi.getStack().toLowerCase()}`,
    // A tag always means the same bytes: rollback by tag is then exact, and a
    // re-push cannot silently change what running tasks restart with.
    imageTagMutability: "IMMUTABLE",
    imageScanningConfiguration: { scanOnPush: true },
    forceDelete: false,
  });
  new aws.ecr.LifecyclePolicy(`${args.name}-keep`, {
    repository: repository.name,
    policy: JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: `keep the last ${args.keepImages} images (rollback window)`,
          selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: args.keepImages },
          action: { type: "expire" },
        },
      ],
    }),
  });

  return {
    image: pulumi.interpolate`${repository.repositoryUrl}:${args.imageTag}`,
    repository,
    repositoryArns: [repository.arn],
  };
}
