/**
 * The `tls` section of the configuration. Its schema lives here and is referenced from
 * src/config/config.ts, so the TLS code owns its own settings.
 *
 *   tls:
 *     enabled: true                  # or `reestr serve --tls`
 *     names: [registry.example.com]  # extra SANs of the automatic certificate
 *     cert: /etc/reestr/tls.crt      # a certificate of your own (with key): no automatic CA
 *     key: /etc/reestr/tls.key
 *     certValidity: 90d              # automatic server certificate lifetime
 *     renewBefore: 30d               # reissued this long before it expires, without a restart
 *     caValidity: 3650d
 */
import { z } from "zod";
import { Duration } from "../util/duration.ts";

/** A list of names: a YAML list, or one comma-separated string (environment, flags). */
const nameList = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((name) => name.trim())
          .filter(Boolean)
      : value,
  z.array(
    z
      .string()
      .min(1)
      .max(253)
      .regex(/^[^\s,/]+$/, "expected a host name or an IP address"),
  ),
);

export const TlsSchema = z
  .object({
    /** Serve HTTPS. Implied by `cert`/`key`. */
    enabled: z.boolean().default(false),
    /** A PEM certificate (chain) of your own; reloaded when the file changes. */
    cert: z.string().min(1).optional(),
    /** The PEM private key of `cert`. */
    key: z.string().min(1).optional(),
    /** Extra names (DNS names or IP addresses) for the automatic server certificate. */
    names: nameList.default([]),
    certValidity: Duration.prefault("90d"),
    renewBefore: Duration.prefault("30d"),
    caValidity: Duration.prefault("3650d"),
    /** How often a user's cert/key files are checked for changes. */
    reloadInterval: Duration.prefault("10s"),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      ctx.addIssue({
        code: "custom",
        message: "cert and key go together: give both or neither",
        path: [tls.cert === undefined ? "cert" : "key"],
      });
    }
    if (tls.renewBefore >= tls.certValidity) {
      ctx.addIssue({
        code: "custom",
        message: "must be shorter than certValidity (the certificate would be renewed forever)",
        path: ["renewBefore"],
      });
    }
    if (tls.certValidity < 2000) {
      ctx.addIssue({ code: "custom", message: "must be at least 2s", path: ["certValidity"] });
    }
  });

export type TlsConfig = z.infer<typeof TlsSchema>;

/** True when the configuration asks for HTTPS. */
export function tlsEnabled(tls: TlsConfig | undefined): boolean {
  return tls !== undefined && (tls.enabled || tls.cert !== undefined);
}
