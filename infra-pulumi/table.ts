// DynamoDB placement history. Key design (decided in the history issue):
//   table   pk  = "P#<x>,<y>"                 sk = seq   -> one pixel's history
//   byUser  gsi1pk = "U#<userId>"             sk = seq   -> one user's placements
//   byTime  gsi2pk = "T#<yyyy-mm-ddThh:mm>#<0..3>" sk = seq -> a minute, 4 shards
// Pulumi owns the table; the service never calls CreateTable in the cloud.
import * as aws from "@pulumi/aws";

export interface TableArgs {
  name: string;
  deletionProtection: boolean;
}

export const INDEX_NAMES = ["byUser", "byTime"] as const;

export function createHistoryTable(args: TableArgs): aws.dynamodb.Table {
  const gsi = (name: string, hashKey: string) => ({
    name,
    keySchemas: [
      { attributeName: hashKey, keyType: "HASH" },
      { attributeName: "sk", keyType: "RANGE" },
    ],
    // Queries on both indexes return whole placements; ALL avoids a fetch
    // back to the table per item.
    projectionType: "ALL",
  });

  return new aws.dynamodb.Table(`${args.name}-history`, {
    // Placement volume follows the game's popularity; on-demand needs no
    // capacity planning and scales with the write burst at launch.
    billingMode: "PAY_PER_REQUEST",
    hashKey: "pk",
    rangeKey: "sk",
    attributes: [
      { name: "pk", type: "S" },
      { name: "sk", type: "N" },
      { name: "gsi1pk", type: "S" },
      { name: "gsi2pk", type: "S" },
    ],
    globalSecondaryIndexes: [gsi("byUser", "gsi1pk"), gsi("byTime", "gsi2pk")],
    pointInTimeRecovery: { enabled: true },
    // Encryption at rest is always on; the default AWS-owned key costs nothing
    // and needs no KMS permissions on the task role.
    deletionProtectionEnabled: args.deletionProtection,
  });
}

/**
 * Time-travel keyframes (service/src/timetravel/dynamo-store.ts): pk = "K#<seq>#<kind>" or the manifest, sk = part
 * number; blobs split under the 400 KB item limit. A table of its own: the history table is scanned whole by
 * ops:rebuild, and keyframes are rebuilt from the history (ops:keyframes), so they need no point-in-time recovery.
 */
export function createKeyframeTable(args: TableArgs): aws.dynamodb.Table {
  return new aws.dynamodb.Table(`${args.name}-keyframes`, {
    billingMode: "PAY_PER_REQUEST",
    hashKey: "pk",
    rangeKey: "sk",
    attributes: [
      { name: "pk", type: "S" },
      { name: "sk", type: "N" },
    ],
    deletionProtectionEnabled: args.deletionProtection,
  });
}
