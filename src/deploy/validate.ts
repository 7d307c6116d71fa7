/**
 * `validateRegistryConfig(config, kind?)`: checks a deploy-kit config and reports every problem
 * with its path.
 *
 * `config` is a builder's deep-partial input (of `kind`, default "DockerRegistry"; aliases such as
 * "harbor" work), or a builder's result (its kind is read from it and paths start with `spec.`).
 * Two layers: schema errors (unknown keys, wrong types, bad enum values) from a strict schema of
 * the kind's config, then semantic rules on the config merged over the defaults — S3 selected
 * without bucket, TLS without certificate and key, invalid cron schedules, invalid CPU/memory
 * quantities, replicas < 1, LDAP/OIDC/SAML enabled without URL or endpoint, bearer-token auth
 * without a configured token server, and the rest each kind documents.
 *
 * `warnings` name what the output leaves to the user (Secrets that must already exist) or cannot
 * express (Nexus OSS replicas, Harbor's threshold blocking); they do not make a config invalid.
 */
import { cronError, type ValidationError } from "./common.ts";
import {
  type ConfigKind,
  canonicalKind,
  isBuiltConfig,
  type ValidationResult,
  validateKind,
} from "./kinds.ts";

export type { ValidationError } from "./common.ts";
export type { ValidationResult } from "./kinds.ts";

export function validateRegistryConfig(
  config: unknown,
  kind: ConfigKind | string = "DockerRegistry",
): ValidationResult {
  if (isBuiltConfig(config)) {
    const result = validateKind(config.kind, config.spec);
    const prefix = (errors: ValidationError[]) =>
      errors.map((e) => ({ ...e, path: e.path === "(root)" ? "spec" : `spec.${e.path}` }));
    return { valid: result.valid, errors: prefix(result.errors), warnings: prefix(result.warnings) };
  }
  const canonical = canonicalKind(kind);
  if (!canonical) {
    return { valid: false, errors: [{ path: "kind", message: `unknown kind "${kind}"` }], warnings: [] };
  }
  return validateKind(canonical, config);
}

/** Validates a cron schedule field. */
export function validateCron(path: string, expression: string): ValidationError[] {
  const error = cronError(expression);
  return error ? [{ path, message: `invalid cron schedule "${expression}": ${error}` }] : [];
}
