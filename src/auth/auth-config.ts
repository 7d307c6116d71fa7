/**
 * The config's `auth` section:
 *
 * ```yaml
 * auth:
 *   mode: token                 # basic (default) | token
 *   htpasswd: /etc/reestr/htpasswd
 *   embeddedUsers: false        # users also in <dataDir>/users.sqlite (reestr user … --embedded)
 *   realm: Reestr               # the Basic challenge's realm
 *   anonymousPull: false
 *   token:                      # mode: token
 *     service: registry.example.com   # the tokens' audience (default "reestr")
 *     issuer: reestr                  # the tokens' issuer (default "reestr")
 *     expiry: 5m
 *     realm: https://registry.example.com/auth/token   # default: this server's /auth/token
 *     signingKey: /etc/reestr/token-key.pem            # default: generated in the data directory
 *     trust:                    # tokens of other issuers (Harbor, a company token server)
 *       - issuer: https://auth.example.com
 *         audience: registry.example.com            # default: token.service
 *         publicKey: /etc/reestr/issuer.pem          # a PEM public key or certificate, or
 *         jwks: https://auth.example.com/jwks.json   # a JWKS URL or file
 *   groups:
 *     dev: [alice, bob]
 *   rules:                      # first match wins; none: every user may do everything
 *     - subjects: [group:dev]
 *       repositories: ["team/**"]
 *       actions: [pull, push]
 * ```
 */
import { z } from "zod";
import { compileRepositoryGlob } from "../oci/repository-glob.ts";
import { PositiveDuration } from "../util/duration.ts";
import { ACTIONS, validateSubject } from "./access-policy.ts";

/** One string or a list of them. */
const list = (item: z.ZodType<string>) =>
  z.union([item, z.array(item)]).transform((v) => (Array.isArray(v) ? v : [v]));

const subject = z.string().superRefine((value, ctx) => {
  try {
    validateSubject(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

const glob = z.string().superRefine((value, ctx) => {
  try {
    compileRepositoryGlob(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

const RuleSchema = z
  .object({
    subjects: list(subject).refine((v) => v.length > 0, "at least one subject"),
    repositories: list(glob).refine((v) => v.length > 0, "at least one repository glob"),
    actions: z.array(z.enum(ACTIONS)),
  })
  .strict();

const TrustSchema = z
  .object({
    issuer: z.string().min(1),
    audience: z.string().min(1).optional(),
    publicKey: z.string().min(1).optional(),
    jwks: z.string().min(1).optional(),
  })
  .strict()
  .refine((entry) => (entry.publicKey === undefined) !== (entry.jwks === undefined), {
    message: "exactly one of publicKey (PEM file) or jwks (URL or file) is required",
  });

export const TokenConfigSchema = z
  .object({
    service: z.string().min(1).default("reestr"),
    issuer: z.string().min(1).default("reestr"),
    expiry: PositiveDuration.prefault("5m"),
    realm: z.url({ protocol: /^https?$/ }).optional(),
    signingKey: z.string().min(1).optional(),
    trust: z.array(TrustSchema).default([]),
  })
  .strict();

const USER = /^[^:\s\p{Cc}]{1,255}$/u;

export const AuthConfigSchema = z
  .object({
    mode: z.enum(["basic", "token"]).optional(),
    htpasswd: z.string().min(1).optional(),
    /** Users also (or only) in `<dataDir>/users.sqlite`, managed with `reestr user … --embedded`. */
    embeddedUsers: z.boolean().optional(),
    realm: z.string().min(1).default("Reestr"),
    /** GET/HEAD on /v2 without credentials (the /v2/ ping still answers 401). */
    anonymousPull: z.boolean().default(false),
    token: TokenConfigSchema.optional(),
    groups: z
      .record(z.string().regex(/^[^\s:]+$/, "no spaces or colons"), z.array(z.string().regex(USER)))
      .optional(),
    rules: z.array(RuleSchema).optional(),
  })
  .strict()
  .superRefine((auth, ctx) => {
    if ((auth.mode ?? "basic") === "basic" && auth.htpasswd === undefined && !auth.embeddedUsers) {
      ctx.addIssue({
        code: "custom",
        path: ["htpasswd"],
        message: "required with basic auth unless auth.embeddedUsers is true (or set auth.mode: token)",
      });
    }
    if (auth.token !== undefined && (auth.mode ?? "basic") !== "token") {
      ctx.addIssue({ code: "custom", path: ["token"], message: "only used with auth.mode: token" });
    }
    const groups = new Set(Object.keys(auth.groups ?? {}));
    auth.rules?.forEach((rule, index) => {
      for (const subject of rule.subjects) {
        if (subject.startsWith("group:") && !groups.has(subject.slice(6))) {
          ctx.addIssue({
            code: "custom",
            path: ["rules", index, "subjects"],
            message: `unknown group "${subject.slice(6)}" (define it under auth.groups)`,
          });
        }
      }
    });
  });

/** The section as written (defaults not applied). */
export type AuthSettings = z.input<typeof AuthConfigSchema>;
/** The section after validation and defaults. */
export type AuthConfig = z.output<typeof AuthConfigSchema>;
export type TokenConfig = z.output<typeof TokenConfigSchema>;
export type TrustConfig = z.output<typeof TrustSchema>;

/** Validates settings given in code (tests, embedders); problems name their fields. */
export function parseAuthSettings(settings: AuthSettings): AuthConfig {
  const result = AuthConfigSchema.safeParse(settings);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `auth.${issue.path.join(".")}: ${issue.message}`);
  throw new Error(`invalid auth settings:\n  ${problems.join("\n  ")}`);
}

/** Environment variables of the section, in config.ts's format. */
export const AUTH_ENVIRONMENT_VARIABLES = {
  REESTR_HTPASSWD: { path: "auth.htpasswd", type: "string" },
  REESTR_AUTH_MODE: { path: "auth.mode", type: "string" },
  REESTR_EMBEDDED_USERS: { path: "auth.embeddedUsers", type: "boolean" },
  REESTR_ANONYMOUS_PULL: { path: "auth.anonymousPull", type: "boolean" },
  REESTR_TOKEN_SERVICE: { path: "auth.token.service", type: "string" },
  REESTR_TOKEN_REALM: { path: "auth.token.realm", type: "string" },
} as const;
