/**
 * Everything that runs Reestr's image names the one `npm run image` builds (src/version.ts's
 * IMAGE: ghcr.io/reestr/reestr:<package.json version>), and the Containerfile declares the same
 * user, entrypoint, command, port, volume and environment as the daemon-less builder.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { IMAGE_RUNTIME } from "../../scripts/build-image.ts";
import { IMAGE, IMAGE_REPOSITORY, VERSION } from "../../src/version.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

describe("the image's name and tag", () => {
  test("is the repository and package version", () => {
    assert.equal(IMAGE, `${IMAGE_REPOSITORY}:${VERSION}`);
    assert.equal(IMAGE_REPOSITORY, "ghcr.io/reestr/reestr");
  });

  test("the kustomize base maps its `reestr` placeholder to it", () => {
    const kustomization = parse(read("deploy/base/kustomization.yaml")) as {
      images: { name: string; newName: string; newTag: string }[];
    };
    const entry = kustomization.images.find((i) => i.name === "reestr");
    assert.ok(entry, "an images: entry for reestr");
    assert.equal(`${entry.newName}:${entry.newTag}`, IMAGE);
    for (const file of ["deploy/base/operator.yaml", "deploy/base/registry.yaml"]) {
      assert.match(read(file), /^\s+image: reestr$/m, `${file} uses the placeholder`);
    }
  });

  test("the Deckhouse module defaults to it", () => {
    const chart = parse(read("deploy/module/Chart.yaml")) as { appVersion: string };
    const template = read("deploy/module/templates/deployment.yaml");
    const match =
      /image: \{\{ .+? \| default "([^"]+)" \}\}\/([a-z0-9-]+):\{\{ \.Chart\.AppVersion \}\}/.exec(template);
    assert.ok(match, "the operator's image line");
    assert.equal(`${match[1]}/${match[2]}:${chart.appVersion}`, IMAGE);
  });

  test("the operator docs name it", () => {
    assert.ok(read("docs/operator.md").includes(`\`${IMAGE}\``));
  });
});

describe("the Containerfile", () => {
  const text = read("Containerfile");
  // The image is the last stage; the build stage's instructions do not reach it.
  const finalStage = text.slice(text.lastIndexOf("\nFROM "));
  const instruction = (name: string) => {
    const match = new RegExp(`^${name} (.+)$`, "m").exec(finalStage);
    assert.ok(match, `a ${name} instruction`);
    return match[1]!;
  };

  test("runs what the builder's image config runs", () => {
    assert.deepEqual(JSON.parse(instruction("ENTRYPOINT")), IMAGE_RUNTIME.entrypoint);
    assert.deepEqual(JSON.parse(instruction("CMD")), IMAGE_RUNTIME.cmd);
    assert.equal(instruction("USER"), IMAGE_RUNTIME.user);
    assert.equal(instruction("WORKDIR"), IMAGE_RUNTIME.workingDir);
    assert.deepEqual(instruction("EXPOSE").split(" "), IMAGE_RUNTIME.exposedPorts);
    assert.deepEqual(instruction("VOLUME").split(" "), IMAGE_RUNTIME.volumes);
    assert.deepEqual(instruction("ENV").split(" "), IMAGE_RUNTIME.env);
  });

  test("builds with the daemon-less builder and is tagged with the image's name", () => {
    assert.match(text, /^RUN npm run image -- --output \/image/m);
    assert.ok(text.includes(`-t ${IMAGE} .`), "the usage line tags the image as deploy/ expects");
  });
});
