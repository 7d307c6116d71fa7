/** A CLI command: each lives in its own file under src/cli/ and default-exports one of these. */
export interface Command {
  name: string;
  /** One line for `reestr --help`. */
  summary: string;
  /** The full `reestr <command> --help` text. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Raised for bad flags or arguments: printed without a stack, with the command's usage hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
