/**
 * The shapes of Clair v4's HTTP API, restated here (in TypeBox) from Clair's OpenAPI document, API version
 * 1.2.0 (quay/clair, httptransport/api/v1/openapi.yaml; Quay bundles an older copy as
 * util/secscan/v4/clair-v4.openapi.json). The Clair protocol test checks every request the registry sends
 * and every answer its stand-in Clair gives against them, so the exchanges the registry is tested with are
 * ones the document allows.
 *
 * Where the document and Clair's own output disagree, what Clair writes is allowed too, and said so below:
 * package kinds in lower case, and the empty string for an unknown CPE or repository URI.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Str = Type.String();
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);

/** A content digest: sha256 required by the document, sha512 allowed. */
export const Digest = Type.String({ pattern: '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$' });
/** A CPE 2.2 URI or 2.3 formatted string; Clair writes "" for none. */
const Cpe = Type.String({ pattern: '^$|^[cC][pP][eE]:/|^cpe:2\\.3:' });

export const Distribution = Type.Object(
  {
    id: Str,
    did: Opt(Str),
    name: Opt(Str),
    version: Opt(Str),
    version_code_name: Opt(Str),
    version_id: Opt(Str),
    arch: Opt(Str),
    cpe: Opt(Cpe),
    pretty_name: Opt(Str),
  },
  { additionalProperties: false },
);

/** A package; `source` is a package again (or null). The document lists kinds in capitals, Clair writes them in lower case. */
export const Package = Type.Recursive((Self) =>
  Type.Object(
    {
      id: Opt(Str),
      name: Str,
      version: Str,
      kind: Opt(Type.Union([Type.Literal('BINARY'), Type.Literal('SOURCE'), Type.Literal('binary'), Type.Literal('source')])),
      source: Opt(Type.Union([Self, Type.Null()])),
      normalized_version: Opt(Str),
      module: Opt(Str),
      arch: Opt(Str),
      cpe: Opt(Cpe),
    },
    { additionalProperties: false },
  ),
);

/** A package repository; Clair writes "" for an unknown URI. */
export const Repository = Type.Object(
  { id: Str, name: Opt(Str), key: Opt(Str), uri: Opt(Type.String({ pattern: '^$|^[a-zA-Z][a-zA-Z0-9+.-]*:' })), cpe: Opt(Cpe) },
  { additionalProperties: false },
);

export const Environment = Type.Object(
  { package_db: Opt(Str), distribution_id: Opt(Str), introduced_in: Opt(Digest), repository_ids: Opt(Type.Array(Str)) },
  { additionalProperties: false },
);

/** What the registry POSTs to /indexer/api/v1/index_report. */
export const Layer = Type.Object(
  {
    hash: Digest,
    uri: Str,
    headers: Opt(Type.Record(Type.String({ pattern: '^[a-zA-Z0-9_-]+$' }), Type.Array(Str))),
    media_type: Opt(Type.String({ pattern: '^application/vnd\\.oci\\.image\\.layer\\.v1\\.tar(\\+(gzip|zstd))?$' })),
  },
  { additionalProperties: false },
);
export const Manifest = Type.Object({ hash: Digest, layers: Opt(Type.Array(Layer)) }, { additionalProperties: false });

export const IndexState = Type.Object({ state: Str });

export const IndexReport = Type.Object(
  {
    manifest_hash: Digest,
    state: Str,
    err: Opt(Str),
    success: Type.Boolean(),
    packages: Opt(Type.Record(Str, Package)),
    distributions: Opt(Type.Record(Str, Distribution)),
    repository: Opt(Type.Record(Str, Repository)),
    environments: Opt(Type.Record(Str, Type.Array(Environment))),
  },
  { additionalProperties: false },
);

const Severity = Type.Union(['Unknown', 'Negligible', 'Low', 'Medium', 'High', 'Critical'].map((s) => Type.Literal(s)));

/** The keys every vulnerability form shares (the document's "vulnerability core"). */
const core = {
  name: Str,
  fixed_in_version: Opt(Str),
  severity: Opt(Str),
  normalized_severity: Severity,
  range: Opt(Type.Object({ '[': Opt(Str), ')': Opt(Str) }, { additionalProperties: false, minProperties: 1 })),
  arch_op: Opt(Type.Union([Type.Literal('equals'), Type.Literal('not equals'), Type.Literal('pattern match')])),
  package: Opt(Package),
  distribution: Opt(Distribution),
  repository: Opt(Repository),
};

/** A matched vulnerability of a VulnerabilityReport. */
export const Vulnerability = Type.Object(
  { ...core, id: Str, updater: Str, description: Opt(Str), issued: Opt(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}' })), links: Opt(Str) },
  { additionalProperties: false },
);

/** The vulnerability of a notification. The document's example of it carries `links`, and Clair's notifier also sends `description`. */
export const VulnerabilitySummary = Type.Object({ ...core, links: Opt(Str), description: Opt(Str) }, { additionalProperties: false });

export const VulnerabilityReport = Type.Object(
  {
    manifest_hash: Digest,
    packages: Type.Record(Str, Package),
    distributions: Type.Record(Str, Distribution),
    repository: Opt(Type.Record(Str, Repository)),
    environments: Type.Record(Str, Type.Array(Environment)),
    vulnerabilities: Type.Record(Str, Vulnerability),
    package_vulnerabilities: Type.Record(Str, Type.Array(Str)),
    enrichments: Opt(Type.Record(Str, Type.Array(Type.Unknown()))),
  },
  { additionalProperties: false },
);

export const Notification = Type.Object(
  { id: Str, manifest: Digest, reason: Type.Union([Type.Literal('added'), Type.Literal('removed')]), vulnerability: VulnerabilitySummary },
  { additionalProperties: false },
);

/** A page of a notification set; no `next` on the last page. */
export const NotificationPage = Type.Object(
  { page: Type.Object({ size: Type.Integer(), next: Opt(Str) }, { additionalProperties: false }), notifications: Type.Array(Notification) },
  { additionalProperties: false },
);

/** What Clair's notifier POSTs to the registry's webhook. */
export const NotificationWebhook = Type.Object({ notification_id: Str, callback: Type.String({ pattern: '^https?://' }) }, { additionalProperties: false });

export const ClairError = Type.Object({ code: Opt(Str), message: Str });

/** Rules the document states beside the types: a vulnerability names a package, distribution or repository, and one naming a package says how its arch compares. */
function vulnerabilityRules(v: Record<string, unknown>, at: string): string[] {
  const out: string[] = [];
  if (!('package' in v) && !('distribution' in v) && !('repository' in v)) out.push(`${at}: needs one of package, distribution, repository`);
  if ('package' in v && !('arch_op' in v)) out.push(`${at}: package without arch_op`);
  return out;
}

/** Every way `value` departs from `schema` ([] when it conforms). */
export function violations(schema: TSchema, value: unknown): string[] {
  const out = [...Value.Errors(schema, value)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (out.length > 0 || typeof value !== 'object' || value === null) return out;
  const v = value as Record<string, any>;
  if (schema === VulnerabilityReport)
    for (const [id, x] of Object.entries(v.vulnerabilities ?? {})) out.push(...vulnerabilityRules(x as Record<string, unknown>, `/vulnerabilities/${id}`));
  if (schema === NotificationPage)
    (v.notifications as Array<Record<string, any>>).forEach((n, i) => out.push(...vulnerabilityRules(n.vulnerability, `/notifications/${i}/vulnerability`)));
  return out;
}
