// VPC over two availability zones.
//
// Public subnets hold only the load balancer. Private subnets hold the Fargate
// tasks, Redis and the interface endpoints, and have NO route to the internet:
// everything the tasks talk to is inside AWS and reachable through VPC
// endpoints (see docs/deploy.md "Egress: VPC endpoints, not NAT"):
//   - DynamoDB and S3 (ECR image layers live in S3): gateway endpoints, free,
//     attached to the private route table.
//   - ECR API, ECR Docker registry, CloudWatch Logs, Secrets Manager:
//     interface endpoints with private DNS, so the default AWS hostnames
//     resolve to addresses inside the VPC.
// Compared with NAT gateways this removes the per-GB NAT processing charge on
// the DynamoDB write stream and leaves the tasks no path to exfiltrate to.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkArgs {
  name: string;
  /** An IPv4 /16 to /20; subnets are carved out as /(prefix+4). */
  cidr: string;
  /** How many AZs to span. The design assumes 2 (Redis Multi-AZ, ALB needs ≥2). */
  azCount: number;
}

export interface Network {
  vpc: aws.ec2.Vpc;
  publicSubnetIds: pulumi.Output<string>[];
  privateSubnetIds: pulumi.Output<string>[];
  privateRouteTable: aws.ec2.RouteTable;
  /** Gateway endpoints' managed prefix lists, for security-group egress rules. */
  gatewayPrefixListIds: pulumi.Output<string>[];
}

/** Interface endpoints the tasks need (ECS pulls, logs and secrets through the task ENI). */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"];
export const GATEWAY_ENDPOINT_SERVICES = ["dynamodb", "s3"];

/**
 * Equivalent of Terraform's cidrsubnet(): the `netnum`-th subnet of `cidr`
 * with `newBits` more prefix bits.
 */
export function subnetCidr(cidr: string, newBits: number, netnum: number): string {
  const [base, prefixText] = cidr.split("/");
  const prefix = Number(prefixText);
  const octets = base.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`invalid IPv4 CIDR: ${cidr}`);
  }
  const newPrefix = prefix + newBits;
  if (!Number.isInteger(prefix) || newPrefix > 28 || netnum < 0 || netnum >= 2 ** newBits) {
    throw new Error(`cannot take subnet #${netnum} of /${newPrefix} from ${cidr}`);
  }
  const ip = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - newPrefix);
  const network = Math.floor(ip / 2 ** (32 - prefix)) * 2 ** (32 - prefix) + netnum * size;
  const out = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${out.join(".")}/${newPrefix}`;
}

export function createNetwork(args: NetworkArgs): Network {
  const { name, cidr, azCount } = args;
  const region = aws.getRegionOutput().region;
  const azs = aws.getAvailabilityZonesOutput({ state: "available" }).names;

  const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
    cidrBlock: cidr,
    // Both are required for interface endpoints' private DNS names to resolve.
    enableDnsHostnames: true,
    enableDnsSupport: true,
    tags: { Name: `${name}-vpc` },
  });

  const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: `${name}-igw` } });
  const publicRouteTable = new aws.ec2.RouteTable(`${name}-public`, {
    vpcId: vpc.id,
    routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
    tags: { Name: `${name}-public` },
  });
  // Deliberately no default route: private subnets cannot reach the internet.
  const privateRouteTable = new aws.ec2.RouteTable(`${name}-private`, {
    vpcId: vpc.id,
    tags: { Name: `${name}-private` },
  });

  const publicSubnetIds: pulumi.Output<string>[] = [];
  const privateSubnetIds: pulumi.Output<string>[] = [];
  for (let i = 0; i < azCount; i++) {
    const az = azs.apply((names) => {
      if (names.length < azCount) throw new Error(`region has only ${names.length} AZs, need ${azCount}`);
      return names[i];
    });
    const pub = new aws.ec2.Subnet(`${name}-public-${i}`, {
      vpcId: vpc.id,
      availabilityZone: az,
      cidrBlock: subnetCidr(cidr, 4, i),
      // The ALB gets its own public addresses; nothing else lives here.
      mapPublicIpOnLaunch: false,
      tags: { Name: `${name}-public-${i}`, tier: "public" },
    });
    new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: pub.id, routeTableId: publicRouteTable.id });
    publicSubnetIds.push(pub.id);

    const priv = new aws.ec2.Subnet(`${name}-private-${i}`, {
      vpcId: vpc.id,
      availabilityZone: az,
      // Upper half of the range, so public and private blocks stay contiguous.
      cidrBlock: subnetCidr(cidr, 4, 8 + i),
      mapPublicIpOnLaunch: false,
      tags: { Name: `${name}-private-${i}`, tier: "private" },
    });
    new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: priv.id, routeTableId: privateRouteTable.id });
    privateSubnetIds.push(priv.id);
  }

  const gatewayPrefixListIds = GATEWAY_ENDPOINT_SERVICES.map((svc) => {
    const ep = new aws.ec2.VpcEndpoint(`${name}-${svc}`, {
      vpcId: vpc.id,
      serviceName: pulumi.interpolate`com.amazonaws.${region}.${svc}`,
      vpcEndpointType: "Gateway",
      routeTableIds: [privateRouteTable.id],
      tags: { Name: `${name}-${svc}` },
    });
    return ep.prefixListId;
  });

  return {
    vpc,
    publicSubnetIds,
    privateSubnetIds,
    privateRouteTable,
    gatewayPrefixListIds,
  };
}

/**
 * Interface endpoints for the AWS APIs the tasks (and the Fargate agent acting
 * for them) call. Separate from createNetwork because their security group
 * needs the VPC first.
 */
export function createInterfaceEndpoints(
  name: string,
  network: Network,
  endpointSecurityGroupId: pulumi.Input<string>,
): aws.ec2.VpcEndpoint[] {
  const region = aws.getRegionOutput().region;
  return INTERFACE_ENDPOINT_SERVICES.map(
    (svc) =>
      new aws.ec2.VpcEndpoint(`${name}-${svc.replace(".", "-")}`, {
        vpcId: network.vpc.id,
        serviceName: pulumi.interpolate`com.amazonaws.${region}.${svc}`,
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: network.privateSubnetIds,
        securityGroupIds: [endpointSecurityGroupId],
        tags: { Name: `${name}-${svc}` },
      }),
  );
}
