/**
 * How the renderers' results become output documents (`RenderedDocument`: what it is, the file it
 * goes to with -o, its content) and YAML.
 */
import { stringify } from "yaml";
import type { BuildConfigDocument } from "./build.ts";
import {
  type ApiRequest,
  fileSafe,
  type K8sObject,
  type RenderedDocument,
  type RenderedRegistry,
} from "./common.ts";
import type { ReestrPolicy } from "./policies.ts";

export function objectDocument(object: K8sObject): RenderedDocument {
  return { type: "object", file: fileSafe(`${object.kind}-${object.metadata.name}.yaml`), content: object };
}

function apiDocuments(name: string, requests: ApiRequest[]): RenderedDocument[] {
  return requests.map((request, i) => ({
    type: "api-request",
    file: `api/${fileSafe(`${request.target}-${name}-${String(i + 1).padStart(2, "0")}.json`)}`,
    comment: `${request.target} API: ${request.method} ${request.path} (${request.description})`,
    content: request,
  }));
}

/** A registry installed with a vendor's chart: the objects around it, its values file, its API requests. */
export function registryDocuments(name: string, rendered: RenderedRegistry): RenderedDocument[] {
  const helm = rendered.helm;
  const version = helm.chartVersion ? ` --version ${helm.chartVersion}` : "";
  return [
    ...rendered.objects.map(objectDocument),
    {
      type: "helm-values",
      file: `helm/${fileSafe(`values-${helm.release}.yaml`)}`,
      comment: `Helm values: helm upgrade --install ${helm.release} ${helm.chart} --repo ${helm.repository}${version} --namespace ${helm.namespace} -f helm/values-${helm.release}.yaml`,
      content: helm.values,
    },
    ...apiDocuments(name, rendered.api),
  ];
}

/** A Reestr policy and the Harbor API requests carrying it. */
export function policyDocuments(
  name: string,
  rendered: { policy: ReestrPolicy<string, unknown>; api: ApiRequest[] },
): RenderedDocument[] {
  return [
    {
      type: "reestr-policy",
      file: `policy/${fileSafe(`${rendered.policy.kind}-${name}.yaml`)}`,
      comment: `Reestr policy ${rendered.policy.kind} "${name}"`,
      content: rendered.policy,
    },
    ...apiDocuments(name, rendered.api),
  ];
}

export function buildConfigDocument(name: string, content: BuildConfigDocument): RenderedDocument {
  return {
    type: "build-config",
    file: `build/${fileSafe(`${name}.yaml`)}`,
    comment: `Build config "${name}" for CI (steps run in order)`,
    content,
  };
}

/** One document as YAML; documents other than Kubernetes objects start with a "# ..." line saying what they are. */
export function documentYaml(document: RenderedDocument): string {
  const comment = document.comment ? `# ${document.comment}\n` : "";
  // No anchors/aliases: each document stands alone, as kubectl and helm expect.
  return comment + stringify(document.content, { aliasDuplicateObjects: false });
}

/** Documents as one multi-document YAML stream. */
export function documentsYaml(documents: readonly RenderedDocument[]): string {
  return documents.map(documentYaml).join("---\n");
}
