#!/usr/bin/env node
// The one plain-JavaScript file: it runs before any TypeScript is loaded.
//
// It must also run far enough on an old Node to say so: `#!/usr/bin/env node` picks whatever
// node is first on PATH, and on Node 20 a static import of what Node 24 has (or the type
// stripping of src/) dies with a SyntaxError that names neither Reestr nor Node. So the check
// comes first, in syntax every Node parses, and everything else is a dynamic import after it.
var major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    "Reestr needs Node 24 (or newer); this is Node " +
      process.version +
      " (" +
      process.execPath +
      ").\n" +
      "Install Node 24 with nvm (nvm install 24 && nvm use 24), or with npm: npm install -g node@24,\n" +
      "or from https://nodejs.org/, then run reestr again.\n",
  );
  process.exit(1);
}

// Node's compile cache keeps the type-stripped and compiled form of every module on disk
// (NODE_COMPILE_CACHE, or the OS temp dir), so later starts never load the type stripper:
// ~35 MiB less resident memory and a faster start. Enabling it from a .ts entry would be too late.
//
// Node refuses to strip types of files under node_modules, so an installed package
// (`npm install -g reestr-<version>.tgz`) runs lib/, the JavaScript `npm pack` builds from src/
// (scripts/build-package.ts); a checkout runs src/ itself.
import("node:module")
  .then((module) => {
    module.enableCompileCache();
    var installed = /[\\/]node_modules[\\/]/.test(decodeURIComponent(new URL(import.meta.url).pathname));
    return import(installed ? "../lib/cli/main.js" : "../src/cli/main.ts");
  })
  .then((cli) => cli.main(process.argv.slice(2)))
  .then((code) => {
    process.exitCode = code;
  });
