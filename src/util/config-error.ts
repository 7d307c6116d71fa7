/** One invalid setting: where it is (`watch.registries[0].url`) and what is wrong with it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** A configuration that cannot be used; the message names every bad field. */
export class ConfigError extends Error {
  /** The problems one by one, when known, for callers that nest this config in another. */
  readonly problems: ConfigProblem[];

  constructor(message: string, problems: ConfigProblem[] = []) {
    super(message);
    this.name = "ConfigError";
    this.problems = problems;
  }
}
