import { parseArgs } from "node:util";
import { pullImage } from "../client/pull-image.ts";
import { formatPlatform, parsePlatform } from "../oci/platform.ts";
import { COMMON_OPTIONS, clientFor, formatBytes, parseTarget, positiveNumber, printJson } from "./args.ts";
import { type Command, UsageError } from "./command.ts";
import { createProgress, progressMode } from "./progress.ts";

const usage = `Usage: reestr pull <[host[:port]/]repository[:tag|@digest]> <oci-layout dir> [options]

Downloads an image into an OCI image layout directory (created if needed), verifying every
blob's digest. An index is pulled whole (every platform) unless --platform picks one image.
The layout names the image by its tag (or --tag), e.g. for \`skopeo copy oci:<dir>:<tag> ...\`.

Options:
  --platform <os/arch[/variant]>   pull only this platform's image from an index
  --tag <name>          ref name to record in the layout (default: the tag pulled)
  --concurrency <n>     parallel blob downloads (default 4)
${COMMON_OPTIONS}

Examples:
  reestr pull demo/app:1.0 ./app-layout
  reestr pull 127.0.0.1:5000/demo/app:1.0 ./arm --platform linux/arm64 --json
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      insecure: { type: "boolean" },
      json: { type: "boolean" },
      platform: { type: "string" },
      tag: { type: "string" },
      concurrency: { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 2) throw new UsageError("expected a reference and a destination directory");
  const [refArg, dir] = positionals as [string, string];
  const target = parseTarget(refArg, { insecure: values.insecure });
  let platform: ReturnType<typeof parsePlatform> | undefined;
  try {
    platform = values.platform === undefined ? undefined : parsePlatform(values.platform);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const reference = target.digest ?? target.tag ?? "latest";
  const client = clientFor(target.url, { insecure: values.insecure });
  const progress = createProgress(progressMode(process.stderr, values.json === true), "pull");
  try {
    const summary = await pullImage(client, target.repository, reference, dir, {
      platform,
      tag: values.tag ?? target.tag ?? (target.digest ? undefined : "latest"),
      concurrency: positiveNumber(values.concurrency, "--concurrency"),
      onEvent: (event) => progress.onEvent(event),
    });
    progress.finish();
    const source = `${target.url.replace(/^https?:\/\//, "")}/${target.repository}${target.digest ? `@${target.digest}` : `:${reference}`}`;
    if (values.json) {
      printJson({
        source,
        layout: dir,
        platform: platform ? formatPlatform(platform) : undefined,
        ...summary,
      });
    } else {
      const { blobs } = summary;
      process.stdout.write(
        `pulled ${source} into ${dir} (${summary.digest})\n` +
          `  ${blobs.transferred} blob(s) downloaded (${formatBytes(blobs.bytesTransferred)}), ` +
          `${blobs.skipped} already present; ${summary.manifests} manifest(s)\n`,
      );
    }
    return 0;
  } finally {
    client.close();
  }
}

export default {
  name: "pull",
  summary: "pull an image from a registry into an OCI layout directory",
  usage,
  run,
} satisfies Command;
