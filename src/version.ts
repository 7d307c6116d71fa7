import { readFileSync } from "node:fs";

/** The package version, read once from package.json next to src/. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Where Reestr's container image is published (`npm run image` builds it under this name). */
export const IMAGE_REPOSITORY = "ghcr.io/reestr/reestr";

/** The image of this version: what deploy/, the Deckhouse module and `reestr kind config` run. */
export const IMAGE = `${IMAGE_REPOSITORY}:${VERSION}`;
