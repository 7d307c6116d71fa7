/**
 * `storage.s3`: blobs in an S3 bucket (any S3 API: AWS, Ceph RGW, MinIO, …) instead of the data
 * directory. Metadata stays in SQLite under dataDir. The bucket must exist; Reestr never creates
 * or configures it. Keys inside it are documented in ./s3-layout.ts.
 *
 *   storage:
 *     s3:
 *       endpoint: http://127.0.0.1:7480   # omit for AWS (the region's endpoint)
 *       region: us-east-1
 *       bucket: reestr
 *       prefix: registry/one              # optional: keys live under it
 *       forcePathStyle: true              # most non-AWS servers need it
 *       accessKeyId: …                    # or REESTR_S3_ACCESS_KEY
 *       secretAccessKey: …                # or REESTR_S3_SECRET_KEY
 *       redirect: false                   # true: blob GETs answer 307 to a presigned URL
 *       redirectExpiry: 20m
 *       partSize: 8MiB
 *
 * Without credentials the AWS SDK's default chain is used (AWS_ACCESS_KEY_ID…, a web identity
 * token, the instance's role). Secret fields are masked in logs (src/util/redact.ts).
 */
import { z } from "zod";
import { Duration } from "../../util/duration.ts";
import { ByteSize } from "../../util/size.ts";

/** S3's smallest part but the last (5 MiB); a part size below it would be refused by the server. */
export const S3_MIN_PART_BYTES = 5 * 1024 * 1024;
/** Presigned URLs (SigV4) are valid for at most a week. */
const MAX_PRESIGN_MS = 7 * 24 * 60 * 60 * 1000;

// Bucket names per S3's rules: 3 to 63 lowercase letters, digits, dots and hyphens.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// Key prefixes: path segments of safe characters, so keys need no escaping anywhere.
const PREFIX_SEGMENT = /^[A-Za-z0-9_.-]+$/;

export const S3ConfigSchema = z
  .object({
    /** The S3 API's URL; omitted: AWS's endpoint for the region. */
    endpoint: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).optional(),
    region: z.string().min(1).default("us-east-1"),
    bucket: z.string().regex(BUCKET_NAME, "expected an S3 bucket name (3-63 of a-z, 0-9, '.', '-')"),
    /** Keys are `<prefix>/blobs/…`, `<prefix>/uploads/…`; several registries may share a bucket. */
    prefix: z
      .string()
      .default("")
      .transform((value) => value.replace(/^\/+|\/+$/g, ""))
      .refine(
        (value) =>
          value === "" || value.split("/").every((s) => PREFIX_SEGMENT.test(s) && s !== ".." && s !== "."),
        "expected path segments of letters, digits, '_', '.' and '-' separated by '/'",
      ),
    /** `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>` (RGW, MinIO). */
    forcePathStyle: z.boolean().default(false),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    /** Blob GETs answer 307 to a presigned GetObject URL, so the bytes bypass Reestr. */
    redirect: z.boolean().default(false),
    /** How long a redirect's presigned URL stays valid. */
    redirectExpiry: Duration.prefault("20m").refine(
      (ms) => ms >= 1000 && ms <= MAX_PRESIGN_MS,
      "must be between 1s and 7d (SigV4's limit)",
    ),
    /** Uploads are sent in parts of this size (S3 multipart; at least 5MiB). */
    partSize: ByteSize.prefault("8MiB").refine(
      (bytes) => bytes >= S3_MIN_PART_BYTES && bytes <= 1024 * 1024 * 1024,
      "must be between 5MiB (S3's smallest part) and 1GiB",
    ),
  })
  .strict()
  .superRefine((value, ctx) => {
    // One without the other is a typo, not a choice: say which is missing.
    if (value.accessKeyId !== undefined && value.secretAccessKey === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["secretAccessKey"],
        message: "required with accessKeyId (or set REESTR_S3_SECRET_KEY)",
      });
    }
    if (value.secretAccessKey !== undefined && value.accessKeyId === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["accessKeyId"],
        message: "required with secretAccessKey (or set REESTR_S3_ACCESS_KEY)",
      });
    }
  });

export type S3Config = z.infer<typeof S3ConfigSchema>;

/** Environment variables of the section (their values are secrets: never logged). */
export const S3_ENVIRONMENT_VARIABLES = {
  REESTR_S3_ACCESS_KEY: { path: "storage.s3.accessKeyId", type: "string" },
  REESTR_S3_SECRET_KEY: { path: "storage.s3.secretAccessKey", type: "string" },
} as const;
