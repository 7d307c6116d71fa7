/**
 * Image build configuration (seed 002, "mkImageBuildConfig"): a documented object a CI system
 * consumes to build and push an image with layer caching. The builder `imageBuildConfig(name,
 * config)` (kinds.ts) parses a deep-partial config with `imageBuildConfigSchema`.
 *
 * `renderImageBuildConfig(config)` returns `apiVersion: build.reestr.dev/v1alpha1`,
 * `kind: BuildConfig`: the builder, the source (git repository and branch, or the local
 * checkout), the Dockerfile, the target image, the cache (type, reference, maximum size), the
 * Secrets holding registry and git credentials, and `steps`: the exact commands for the chosen
 * build system (docker buildx, buildah, podman, kaniko), so a pipeline can run them as they are.
 *
 * @example
 * const build = imageBuildConfig("api", {
 *   image: "registry.example.com/team/api:1.2.0",
 *   context: { repository: "https://git.example.com/team/api.git" },
 * });
 * const ci = renderImageBuildConfig(build);
 */
import { z } from "zod";
import type { PolicyMetadata, Problems } from "./common.ts";
import type { Built } from "./define.ts";

export const BUILD_API_VERSION = "build.reestr.dev/v1alpha1";

const buildSystem = z.enum(["docker", "buildkit", "buildah", "podman", "kaniko"]);

export const imageBuildConfigSchema = z.strictObject({
  name: z.string().default("image-build"),
  buildSystem: buildSystem.default("docker"),
  cache: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** "registry": cache layers in a registry repository; "local": a directory; "inline": in the image itself. */
      type: z.enum(["registry", "local", "inline"]).default("registry"),
      /** Kubernetes quantity: the most the cache may hold. */
      maxSize: z.string().default("10Gi"),
      /** Reestr extension: cache location (registry repository or directory); empty = `<image repository>:buildcache` or /cache. */
      ref: z.string().default(""),
    })
    .prefault({}),
  context: z
    .strictObject({
      /** "git": clone `repository` at `branch`; "local": the CI checkout ("."). */
      source: z.enum(["git", "local"]).default("git"),
      repository: z.string().default(""),
      branch: z.string().default("main"),
    })
    .prefault({}),
  credentials: z
    .strictObject({
      /** Secret (kubernetes.io/dockerconfigjson) with push credentials for the image and cache. */
      registrySecret: z.string().default(""),
      /** Secret with git credentials (ssh key or token) for private repositories. */
      gitSecret: z.string().default(""),
    })
    .prefault({}),
  /** Reestr extension: the image to build and push; empty = "$IMAGE" for the CI system to set. */
  image: z.string().default(""),
  /** Reestr extension: Dockerfile path inside the context. */
  dockerfile: z.string().min(1).default("Dockerfile"),
});

/** What imageBuildConfig() takes: any subset of the options, at any depth. */
export type ImageBuildConfigInput = z.input<typeof imageBuildConfigSchema>;
export type ImageBuildConfigConfig = z.output<typeof imageBuildConfigSchema>;
export type BuildSystem = z.output<typeof buildSystem>;
export type ImageBuildConfig = Built<"ImageBuildConfig", PolicyMetadata, ImageBuildConfigConfig>;

export const IMAGE_BUILD_CONFIG_DEFAULTS: ImageBuildConfigConfig = imageBuildConfigSchema.parse({});

export interface BuildConfigSpec {
  builder: BuildSystem;
  source: { type: "git" | "local"; repository: string; branch: string; context: string };
  dockerfile: string;
  image: string;
  cache: { enabled: boolean; type: "registry" | "local" | "inline"; ref: string; maxSize: string };
  credentials: { registrySecret: string; gitSecret: string };
  /** Commands to run in order (argv arrays, no shell). */
  steps: string[][];
}

export interface BuildConfigDocument {
  apiVersion: typeof BUILD_API_VERSION;
  kind: "BuildConfig";
  metadata: PolicyMetadata;
  spec: BuildConfigSpec;
}

/** The image's repository with `:buildcache` (the usual registry cache reference). */
function cacheRef(spec: ImageBuildConfigConfig, image: string): string {
  if (spec.cache.ref) return spec.cache.ref;
  if (spec.cache.type === "local") return "/cache";
  const withoutTag = image.replace(/@.*$/, "").replace(/:[^:/]*$/, "");
  return `${withoutTag}:buildcache`;
}

function buildContext(spec: ImageBuildConfigConfig): string {
  if (spec.context.source === "local" || !spec.context.repository) return ".";
  if (spec.buildSystem === "kaniko") {
    return `git://${spec.context.repository.replace(/^https?:\/\//, "")}#refs/heads/${spec.context.branch}`;
  }
  return `${spec.context.repository}#${spec.context.branch}`;
}

export function buildSteps(spec: ImageBuildConfigConfig): string[][] {
  const image = spec.image || "$IMAGE";
  const context = buildContext(spec);
  const cache = spec.cache;
  const ref = cacheRef(spec, image);
  switch (spec.buildSystem) {
    case "docker":
    case "buildkit": {
      const args = ["docker", "buildx", "build", "--file", spec.dockerfile, "--tag", image, "--push"];
      if (cache.enabled) {
        if (cache.type === "registry") {
          args.push(
            "--cache-from",
            `type=registry,ref=${ref}`,
            "--cache-to",
            `type=registry,ref=${ref},mode=max`,
          );
        } else if (cache.type === "local") {
          args.push("--cache-from", `type=local,src=${ref}`, "--cache-to", `type=local,dest=${ref},mode=max`);
        } else {
          args.push("--cache-from", `type=registry,ref=${image}`, "--cache-to", "type=inline");
        }
      }
      args.push(context);
      return [args];
    }
    case "buildah":
    case "podman": {
      const tool = spec.buildSystem;
      const args = [tool, "build", "--file", spec.dockerfile, "--tag", image, "--layers"];
      if (cache.enabled && cache.type === "registry") args.push("--cache-from", ref, "--cache-to", ref);
      args.push(context);
      return [args, [tool, "push", image]];
    }
    case "kaniko": {
      const args = [
        "/kaniko/executor",
        "--context",
        context,
        "--dockerfile",
        spec.dockerfile,
        "--destination",
        image,
      ];
      if (cache.enabled) {
        args.push("--cache=true");
        if (cache.type === "registry") args.push(`--cache-repo=${ref.replace(/:[^:/]*$/, "")}`);
        if (cache.type === "local") args.push(`--cache-dir=${ref}`);
      }
      return [args];
    }
  }
}

export function renderImageBuildConfig(build: ImageBuildConfig): BuildConfigDocument {
  const spec = build.spec;
  const image = spec.image || "$IMAGE";
  return {
    apiVersion: BUILD_API_VERSION,
    kind: "BuildConfig",
    metadata: { ...build.metadata, labels: { ...build.metadata.labels } },
    spec: {
      builder: spec.buildSystem,
      source: {
        type: spec.context.source,
        repository: spec.context.repository,
        branch: spec.context.branch,
        context: buildContext(spec),
      },
      dockerfile: spec.dockerfile,
      image,
      cache: {
        enabled: spec.cache.enabled,
        type: spec.cache.type,
        ref: spec.cache.enabled ? cacheRef(spec, image) : "",
        maxSize: spec.cache.maxSize,
      },
      credentials: { ...spec.credentials },
      steps: buildSteps(spec),
    },
  };
}

export function imageBuildConfigProblems(spec: ImageBuildConfigConfig, problems: Problems): void {
  problems.quantity("cache.maxSize", spec.cache.maxSize, "storage");
  if (spec.context.source === "git") {
    if (!spec.context.repository) {
      problems.warn("context.repository", "no git repository: the CI system must supply the source");
    } else if (!/^(https?|ssh|git):\/\/|^[\w.-]+@[\w.-]+:/.test(spec.context.repository)) {
      problems.error("context.repository", `"${spec.context.repository}" is not a git URL`);
    }
    if (!spec.context.branch) problems.error("context.branch", "required for a git source");
  }
  if (!spec.image) problems.warn("image", 'no image: the steps push "$IMAGE", which the CI system must set');
  // docker buildx has an inline cache; the others do not.
  if (spec.cache.enabled && spec.cache.type === "inline") {
    if (spec.buildSystem === "buildah" || spec.buildSystem === "podman") {
      problems.error("cache.type", `${spec.buildSystem} has no inline cache (use "registry")`);
    } else if (spec.buildSystem === "kaniko") {
      problems.error("cache.type", 'kaniko has no inline cache (use "registry" or "local")');
    }
  }
}
