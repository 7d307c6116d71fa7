// A TypeScript config: builders from "reestr/deploy", typed and checked by the compiler.
//   reestr deploy render examples/deploy/registries.ts
import { harborRegistry, imageBuildConfig, imageReplicationPolicy, nexusRegistry } from "reestr/deploy";

const domain = "example.com";

export default [
  harborRegistry("staging", {
    namespace: "harbor-staging",
    expose: { host: `harbor-staging.${domain}` },
    database: { host: `postgres.${domain}`, passwordSecret: "staging-db" },
    redis: { enabled: false },
    storage: { type: "filesystem", filesystem: { size: "200Gi" } },
    authentication: { oidc: { enabled: true, endpoint: `https://sso.${domain}`, clientId: "harbor" } },
  }),
  nexusRegistry("proxy-cache", {
    repositories: { maven: { hosted: false }, npm: { hosted: false }, helm: { hosted: false, group: false } },
  }),
  imageReplicationPolicy("push-to-dr", {
    source: { registry: `harbor-staging.${domain}`, namespace: "apps" },
    destination: { registry: `harbor-dr.${domain}`, namespace: "apps" },
    rules: { pullImage: false, deleteImage: true },
  }),
  imageBuildConfig("web", { image: `harbor-staging.${domain}/apps/web:latest`, cache: { type: "registry" } }),
];
