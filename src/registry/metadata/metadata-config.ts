import { z } from "zod";

/** Whether a connection URL is one PostgreSQL's clients take (libpq's URI form). */
function isPostgresUrl(value: string): boolean {
  try {
    return ["postgres:", "postgresql:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * The `metadata` section: where the registry keeps repositories, manifests, tags and blob
 * links. Without `postgres`, in `<dataDir>/metadata.sqlite` (one server); with it, in a
 * PostgreSQL database several replicas can share (./postgres-metadata-store.ts). The messages
 * never repeat the URL: it may hold a password.
 */
export const MetadataConfigSchema = z
  .object({
    postgres: z
      .object({
        /** postgresql://user:password@host:5432/database (REESTR_POSTGRES_URL); PG* variables fill in the rest. */
        url: z
          .string()
          .refine(
            isPostgresUrl,
            "expected a postgres:// or postgresql:// URL (postgresql://user:password@host:5432/database)",
          ),
        /** Connections to the database at most, per server. */
        poolSize: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .optional(),
  })
  .strict();

export type MetadataConfig = z.infer<typeof MetadataConfigSchema>;
