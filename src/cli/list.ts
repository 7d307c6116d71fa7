import { isRegistryClientError } from "../client/errors.ts";
import { forEachLimit } from "../util/concurrency.ts";
import { DEFAULT_URL, parseRegistryArgs, printJson } from "./args.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr list [url] [options]

Lists every repository of a registry (the catalog) with its tags.

Options:
  --json                print a JSON result on stdout: {"repositories":[{"name","tags"}]}
  --insecure            do not verify the registry's TLS certificate
  -h, --help            show this help

Environment:
  REESTR_URL            registry used when no url is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   credentials; else the host's entry in docker's config.json
`;

async function run(argv: string[]): Promise<number> {
  const { json, url, client } = parseRegistryArgs(argv);
  try {
    const names = await client.catalog({ pageSize: 1000 });
    const repositories = names.map((name) => ({ name, tags: [] as string[] }));
    await forEachLimit(repositories, 8, async (repo) => {
      try {
        repo.tags = await client.listTags(repo.name, { pageSize: 1000 });
      } catch (error) {
        // A repository deleted between catalog and tags list is simply empty.
        if (!isRegistryClientError(error, "NAME_UNKNOWN")) throw error;
      }
    });
    if (json) {
      printJson({ url, repositories });
    } else if (repositories.length === 0) {
      process.stdout.write(`${url}: no repositories\n`);
    } else {
      for (const repo of repositories) {
        process.stdout.write(`${repo.name}\t${repo.tags.length > 0 ? repo.tags.join(" ") : "(no tags)"}\n`);
      }
    }
    return 0;
  } finally {
    client.close();
  }
}

export default {
  name: "list",
  summary: "list repositories and their tags",
  usage,
  run,
} satisfies Command;
