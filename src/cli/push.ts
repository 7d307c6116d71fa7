import { parseArgs } from "node:util";
import { pushImage } from "../client/push-image.ts";
import { openImageSource } from "../image/open.ts";
import { COMMON_OPTIONS, clientFor, formatBytes, parseTarget, positiveNumber, printJson } from "./args.ts";
import { type Command, UsageError } from "./command.ts";
import { createProgress, progressMode } from "./progress.ts";

const usage = `Usage: reestr push <source> <[host[:port]/]repository[:tag]> [options]

Uploads an image to a registry without docker: blobs the registry already has are skipped,
then manifests are put (an index's children before the index).

Source:
  <dir>[:ref]             an OCI image layout (ref = org.opencontainers.image.ref.name;
                          may be omitted when the layout holds one image)
  <file.tar>[:name:tag]   a \`docker save\` archive (classic or OCI-layout style)

Options:
  --chunk-size <MiB>    upload blobs larger than this in PATCH chunks of this size
  --mount-from <repo>   try a cross-repository mount from this repository first
  --concurrency <n>     parallel blob uploads (default 4)
${COMMON_OPTIONS}

Examples:
  reestr push ./image:latest demo/app:1.0
  reestr push app.tar 127.0.0.1:5000/demo/app:1.0 --json

Ctrl-C (or SIGTERM) stops the push and cancels its upload sessions on the registry (DELETE),
so no half-sent blob waits there for the upload expiry; exit status 130 (143 for SIGTERM).
A second Ctrl-C exits at once.
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      insecure: { type: "boolean" },
      json: { type: "boolean" },
      "chunk-size": { type: "string" },
      "mount-from": { type: "string" },
      concurrency: { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 2) throw new UsageError("expected a source and a destination reference");
  const [sourceArg, targetArg] = positionals as [string, string];
  const target = parseTarget(targetArg, { insecure: values.insecure });
  if (target.digest) throw new UsageError("push to a tag, not a digest: the digest is the content's");
  const chunkSize = positiveNumber(values["chunk-size"], "--chunk-size");
  const concurrency = positiveNumber(values.concurrency, "--concurrency");

  const { source, ref } = await openImageSource(sourceArg);
  const root = await source.resolve(ref);
  const tag = target.tag ?? "latest";
  const client = clientFor(target.url, { insecure: values.insecure });
  const progress = createProgress(progressMode(process.stderr, values.json === true), "push");
  const interrupted = interruption();
  try {
    let summary: Awaited<ReturnType<typeof pushImage>>;
    try {
      summary = await pushImage(client, source, root, target.repository, {
        tag,
        chunkSize: chunkSize === undefined ? undefined : Math.round(chunkSize * 1024 * 1024),
        concurrency,
        mountFrom: values["mount-from"],
        onEvent: (event) => progress.onEvent(event),
        signal: interrupted.signal,
      });
    } catch (error) {
      if (!interrupted.signal.aborted) throw error;
      progress.finish();
      process.stderr.write(
        `reestr push: interrupted (${interrupted.by}); the uploads in progress were cancelled on the registry\n`,
      );
      return interrupted.by === "SIGTERM" ? 143 : 130;
    }
    progress.finish();
    const reference = `${target.url.replace(/^https?:\/\//, "")}/${target.repository}:${tag}`;
    if (values.json) {
      printJson({ reference, source: source.description, ...summary });
    } else {
      const { blobs } = summary;
      process.stdout.write(
        `pushed ${reference}@${summary.digest}\n` +
          `  ${blobs.transferred} blob(s) uploaded (${formatBytes(blobs.bytesTransferred)}), ` +
          `${blobs.skipped} already present, ${blobs.mounted} mounted; ${summary.manifests} manifest(s)\n`,
      );
    }
    return 0;
  } finally {
    interrupted.dispose();
    client.close();
  }
}

/**
 * SIGINT / SIGTERM as an abort signal. The first one cancels the push, which then ends its
 * upload sessions (a few requests); a second one exits at once, for a registry that no longer
 * answers.
 */
function interruption() {
  const controller = new AbortController();
  const state = { signal: controller.signal, by: "", dispose };
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(name === "SIGTERM" ? 143 : 130);
    state.by = name;
    process.stderr.write(`\nreestr push: ${name}: cancelling the uploads in progress (again to exit now)\n`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  function dispose() {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return state;
}

export default {
  name: "push",
  summary: "push an OCI layout or docker-save archive to a registry",
  usage,
  run,
} satisfies Command;
