/**
 * `reestr kind config`: prints what a local kind cluster needs to pull from a Reestr registry
 * running in a Docker container (kind Cluster config, KEP-1755 ConfigMap, hosts.toml, commands).
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import {
  type KindIntegrationOptions,
  kindIntegration,
  kindMirrorHostsToml,
  renderKindIntegration,
} from "../deploy/kind.ts";
import { IMAGE } from "../version.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr kind config [options]

Prints a kind Cluster config whose containerd pulls <registry-host>/... from the Reestr registry
container, the local-registry-hosting ConfigMap (KEP-1755, namespace kube-public), the
containerd hosts.toml, and the commands that start the registry container (unless it exists)
and connect it to kind's network (docker network connect kind <name>). The output is a YAML
stream with comments.

Options:
  --registry-host <host:port>  registry as image names use it on this machine (default localhost:5000)
  --name <container>           the registry's Docker container name (default reestr)
  --image <ref>                the registry container's image (default ${IMAGE})
  --container-port <port>      port the registry listens on inside its container (default 5000)
  --cluster-name <name>        kind cluster name (default reestr)
  --certs-dir <abs path>       host directory mounted at /etc/containerd/certs.d in every node
                               (default /tmp/reestr-kind/certs.d)
  --workers <n>                worker nodes besides the control plane (default 0)
  --only <section>             print one section: cluster | configmap | hosts-toml | commands | mirror
  --mirror <host>=<prefix>     with --only mirror: the hosts.toml for /etc/containerd/certs.d/<host>/
                               sending pulls of <host> (docker.io) through the pull-through cache
                               entry <prefix> (docs/pull-through-cache.md)
  --json                       print {"cluster","configMap","hostsToml","commands"} as JSON
  -h, --help                   show this help

Example:
  reestr kind config --only commands | sh
`;

export interface KindIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: KindIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs `reestr kind <argv>`; returns the exit code (2 for bad usage). */
export async function runKind(argv: string[], io: KindIo = processIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "registry-host": { type: "string" },
        name: { type: "string" },
        image: { type: "string" },
        "container-port": { type: "string" },
        "cluster-name": { type: "string" },
        "certs-dir": { type: "string" },
        workers: { type: "string" },
        only: { type: "string" },
        mirror: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.stderr(`reestr kind: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  if (positionals[0] !== "config" || positionals.length > 1) {
    io.stderr(
      `reestr kind: ${positionals[0] === undefined ? "missing subcommand" : `unknown subcommand "${positionals.join(" ")}"`} (expected "config")\n${usage}`,
    );
    return 2;
  }
  const integer = (flag: string): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !/^\d+$/.test(v))
      throw new Error(`--${flag}: expected a whole number, got "${String(v)}"`);
    return Number(v);
  };
  try {
    const options: KindIntegrationOptions = {
      registryHost: values["registry-host"] as string | undefined,
      name: values.name as string | undefined,
      image: values.image as string | undefined,
      clusterName: values["cluster-name"] as string | undefined,
      certsDir: values["certs-dir"] as string | undefined,
      containerPort: integer("container-port"),
      workers: integer("workers"),
    };
    const bundle = kindIntegration(options);
    const only = values.only as string | undefined;
    if (values.json) {
      const sections: Record<string, unknown> = {
        cluster: bundle.cluster,
        configmap: bundle.configMap,
        "hosts-toml": bundle.hostsToml,
        commands: bundle.commands,
      };
      if (only !== undefined && !(only in sections)) throw new Error(`--only: unknown section "${only}"`);
      io.stdout(`${JSON.stringify(only ? sections[only] : bundle, null, 2)}\n`);
      return 0;
    }
    switch (only) {
      case undefined:
        io.stdout(renderKindIntegration(options));
        return 0;
      case "cluster":
        io.stdout(stringify(bundle.cluster));
        return 0;
      case "configmap":
        io.stdout(stringify(bundle.configMap));
        return 0;
      case "hosts-toml":
        io.stdout(bundle.hostsToml.content);
        return 0;
      case "commands":
        io.stdout(`${bundle.commands.join("\n")}\n`);
        return 0;
      case "mirror": {
        const mirror = /^([^=\s]+)=([a-z0-9._-]+)$/.exec(String(values.mirror ?? ""));
        if (!mirror)
          throw new Error(`--only mirror needs --mirror <upstream-host>=<prefix>, e.g. docker.io=dockerhub`);
        io.stdout(kindMirrorHostsToml(options, mirror[1]!, mirror[2]!));
        return 0;
      }
      default:
        throw new Error(
          `--only: unknown section "${only}" (cluster, configmap, hosts-toml, commands, mirror)`,
        );
    }
  } catch (error) {
    io.stderr(`reestr kind: ${(error as Error).message}\n`);
    return 2;
  }
}

export default {
  name: "kind",
  summary: "print a kind cluster config that pulls from the local Reestr registry",
  usage,
  run: (argv) => runKind(argv),
} satisfies Command;
