import { dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import {
  DEFAULT_BCRYPT_COST,
  hashPassword,
  readHtpasswd,
  validateUserName,
  writeHtpasswd,
} from "../auth/htpasswd.ts";
import { EMBEDDED_USERS_FILE, EmbeddedUserStore } from "../auth/user-store.ts";
import { ConfigError } from "../util/config-error.ts";
import { makeDirectorySync } from "../util/fs.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr user <add|remove|passwd|disable|enable|list> [name] [options]

Manages the registry's users: an htpasswd file with bcrypt hashes (cost ${DEFAULT_BCRYPT_COST}), the
same format as \`htpasswd -B\`. A running \`reestr serve --htpasswd <file>\` picks changes up
within a second, without a restart. The same users log in with Basic auth on /v2 and at the
token endpoint (/auth/token) in token mode; what each may do is set by the config's
\`auth.groups\` and \`auth.rules\` (docs/security.md).

  reestr user add <name> [--password-stdin]      create a user (fails if it exists)
  reestr user passwd <name> [--password-stdin]   change a user's password
  reestr user remove <name>                      delete a user
  reestr user disable <name> --embedded          keep the user but refuse it: it cannot log in,
                                                 and its sessions and tokens stop working at once
  reestr user enable <name> --embedded           let a disabled user in again
  reestr user list [--json]                      list user names (disabled ones marked)

Options:
  --htpasswd <file>     the file (REESTR_HTPASSWD; default <data>/htpasswd)
  --data <dir>          data directory for the default file (REESTR_DATA, default ./data)
  --embedded            use the embedded store, <data>/users.sqlite, instead of an htpasswd
                        file (served with \`auth.embeddedUsers: true\`; same bcrypt hashes)
  --password-stdin      read the password from standard input (scripts); otherwise it is
                        asked twice on the terminal, without echo
  --json                print a JSON result on stdout
  -h, --help            show this help

Example:
  printf '%s' "$PASSWORD" | reestr user add ci --password-stdin --htpasswd /etc/reestr/htpasswd
`;

/** What the command reads and writes; tests pass their own. */
export interface UserIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** bcrypt cost (tests lower it). */
  cost?: number;
}

/** bcrypt ignores bytes past 72: a longer password would be accepted by its first 72 bytes alone. */
const MAX_PASSWORD_BYTES = 72;

export async function runUser(argv: string[], io: UserIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      htpasswd: { type: "string" },
      data: { type: "string" },
      embedded: { type: "boolean" },
      "password-stdin": { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  const [action, name, ...extra] = positionals;
  if (!action) throw new UsageError("expected an action: add, remove, passwd, disable, enable or list");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const dataDir = values.data ?? (io.env["REESTR_DATA"] || "./data");
  const embedded = values.embedded ?? false;
  if (embedded && values.htpasswd) throw new UsageError("--embedded and --htpasswd exclude each other");
  const users = embedded
    ? embeddedUsers(resolve(dataDir))
    : htpasswdUsers(resolve(values.htpasswd ?? (io.env["REESTR_HTPASSWD"] || join(dataDir, "htpasswd"))));
  const { where } = users;
  const json = values.json ?? false;
  const out = (text: string, result: unknown) => {
    io.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : text);
  };
  // The JSON results name the store as `file` (the htpasswd file or users.sqlite).
  const file = where;

  try {
    if (action === "list") {
      if (name) throw new UsageError(`unexpected argument "${name}"`);
      const names = await users.list();
      const disabled = new Set(await users.disabled());
      out(names.map((user) => `${user}${disabled.has(user) ? " (disabled)" : ""}\n`).join(""), {
        file,
        users: names,
        // Only stores with a disabled state say who is.
        ...(users.setDisabled ? { disabled: [...disabled] } : {}),
      });
      return 0;
    }
    if (!["add", "remove", "passwd", "disable", "enable"].includes(action)) {
      throw new UsageError(
        `unknown action "${action}": expected add, remove, passwd, disable, enable or list`,
      );
    }
    if (!name) throw new UsageError(`${action}: expected a user name`);
    validateUserName(name);
    if (action === "disable" || action === "enable") {
      if (!users.setDisabled) {
        return fail(
          io,
          `the htpasswd format has no disabled state: remove the user (reestr user remove ${name}), or keep users in the embedded store (--embedded)`,
        );
      }
      await users.setDisabled(name, action === "disable");
      out(`${action}d user ${name}\n`, { file, user: name, action: `${action}d` });
      return 0;
    }
    if (action === "remove") {
      if (!(await users.remove(name))) return fail(io, `no user "${name}" in ${where}`);
      out(`removed user ${name}\n`, { file, user: name, action: "removed" });
      return 0;
    }
    const exists = await users.has(name);
    if (action === "add" && exists) {
      return fail(io, `user "${name}" already exists in ${where} (use \`reestr user passwd ${name}\`)`);
    }
    if (action === "passwd" && !exists) return fail(io, `no user "${name}" in ${where}`);
    const password = values["password-stdin"] ? await readAll(io.stdin) : await promptTwice(io, name);
    if (password === "") return fail(io, "empty password refused");
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      return fail(
        io,
        `password longer than ${MAX_PASSWORD_BYTES} bytes refused (bcrypt would ignore the rest)`,
      );
    }
    await users.set(name, await hashPassword(password, io.cost ?? DEFAULT_BCRYPT_COST), action === "add");
    const verb = action === "add" ? "added" : "changed password of";
    out(`${verb} user ${name}\n`, { file, user: name, action: action === "add" ? "added" : "updated" });
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) return fail(io, error.message);
    throw error;
  } finally {
    users.close();
  }
}

/** The two places users live, behind one small interface for the command. */
interface Users {
  where: string;
  list(): Promise<string[]>;
  has(name: string): Promise<boolean>;
  set(name: string, hash: string, isNew: boolean): Promise<void>;
  remove(name: string): Promise<boolean>;
  disabled(): Promise<string[]>;
  /** Absent where the store has no disabled state (htpasswd files). */
  setDisabled?(name: string, disabled: boolean): Promise<void>;
  close(): void;
}

function htpasswdUsers(file: string): Users {
  const read = () => readHtpasswd(file, { missingOk: true });
  return {
    where: file,
    list: async () => [...(await read()).keys()],
    has: async (name) => (await read()).has(name),
    async set(name, hash) {
      const entries = await read();
      entries.set(name, hash);
      makeDirectorySync(dirname(file));
      await writeHtpasswd(file, entries);
    },
    async remove(name) {
      const entries = await read();
      if (!entries.delete(name)) return false;
      await writeHtpasswd(file, entries);
      return true;
    },
    disabled: async () => [],
    close: () => {},
  };
}

function embeddedUsers(dataDir: string): Users {
  let store: EmbeddedUserStore | undefined;
  const open = () => {
    store ??= new EmbeddedUserStore(dataDir);
    return store;
  };
  return {
    where: join(dataDir, EMBEDDED_USERS_FILE),
    list: async () => open().list(),
    has: async (name) => open().has(name),
    set: async (name, hash, isNew) => (isNew ? open().add(name, hash) : open().setHash(name, hash)),
    remove: async (name) => open().remove(name),
    disabled: async () => open().disabled(),
    setDisabled: async (name, disabled) => open().setDisabled(name, disabled),
    close: () => store?.close(),
  };
}

function fail(io: UserIo, message: string): number {
  io.stderr.write(`reestr user: ${message}\n`);
  return 1;
}

/** All of stdin, less one trailing newline (`echo pass |` as well as `printf pass |`). */
async function readAll(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function promptTwice(io: UserIo, name: string): Promise<string> {
  if (!io.stdin.isTTY || !io.stdin.setRawMode) {
    throw new UsageError("standard input is not a terminal: pass the password with --password-stdin");
  }
  const first = await promptHidden(io, `New password for ${name}: `);
  const second = await promptHidden(io, "Retype password: ");
  if (first !== second) throw new ConfigError("passwords do not match");
  return first;
}

/** Reads one line from a TTY in raw mode, echoing nothing. Ctrl-C aborts. */
function promptHidden(io: UserIo, question: string): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(question);
  return new Promise((resolvePassword, reject) => {
    let value = "";
    const done = (error?: Error) => {
      stdin.setRawMode!(false);
      stdin.pause();
      stdin.off("data", onData);
      stderr.write("\n");
      if (error) reject(error);
      else resolvePassword(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") return done();
        if (char === "\u0003") return done(new ConfigError("aborted"));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode!(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

export default {
  name: "user",
  summary: "manage registry users (htpasswd file, bcrypt)",
  usage,
  run: (argv) =>
    runUser(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }),
} satisfies Command;
