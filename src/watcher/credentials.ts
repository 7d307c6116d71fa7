/**
 * Standalone credentials of a Registry spec (`credentials: {username, password | passwordEnv |
 * passwordFile}`) resolved to a username and password. The operator's `credentialsSecret` is read
 * from the cluster by the operator itself and handed to the engine instead.
 */
import { readFile } from "node:fs/promises";
import type { Credentials } from "./spec.ts";

export interface ResolvedCredentials {
  username: string;
  password: string;
}

export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialsError";
  }
}

/** Resolves the password from its one source; throws a CredentialsError naming what is missing. */
export async function resolveCredentials(
  credentials: Credentials | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedCredentials | undefined> {
  if (credentials === undefined) return undefined;
  const { username } = credentials;
  if (credentials.password !== undefined) return { username, password: credentials.password };
  if (credentials.passwordEnv !== undefined) {
    const password = env[credentials.passwordEnv];
    if (password === undefined || password === "") {
      throw new CredentialsError(`environment variable ${credentials.passwordEnv} (password) is not set`);
    }
    return { username, password };
  }
  if (credentials.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(credentials.passwordFile, "utf8");
    } catch (error) {
      throw new CredentialsError(
        `cannot read password file ${credentials.passwordFile}: ${(error as Error).message}`,
      );
    }
    // Files written by `echo` or Kubernetes secrets often end with a newline that is not part of it.
    return { username, password: text.replace(/\r?\n$/, "") };
  }
  throw new CredentialsError("credentials have no password source");
}
