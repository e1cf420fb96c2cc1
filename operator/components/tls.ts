/**
 * TLS for the registry's external endpoint. Managed on OpenShift: the router's wildcard certificate.
 * Managed on Kubernetes: a CA and a serving certificate the operator generates (see ../tls.ts).
 * Unmanaged: the user's pair from the bundle (`ssl.cert`/`ssl.key`) or from `secretRef`.
 */
import { meta, prefixed } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import type { KubeObject } from '../types.js';

export const caSecretName = (ctx: Named) => prefixed(ctx, 'quay-tls-ca');
export const tlsSecretName = (ctx: RenderContext) => ctx.tlsSecretName ?? prefixed(ctx, 'quay-tls');

function tlsTypedSecret(ctx: RenderContext, name: string, data: Record<string, string>): KubeObject {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(ctx, name, 'quay-tls', 'tls'),
    type: 'kubernetes.io/tls',
    data: Object.fromEntries(
      Object.keys(data)
        .sort()
        .map((k) => [k, b64(data[k])]),
    ),
  };
}

/** The serving certificate as a kubernetes.io/tls Secret, for Ingress. */
export function tlsSecret(ctx: RenderContext): KubeObject {
  const t = ctx.tls!;
  return tlsTypedSecret(ctx, tlsSecretName(ctx), { 'tls.crt': t.cert, 'tls.key': t.key, ...(t.ca ? { 'ca.crt': t.ca } : {}) });
}

export const tls: ComponentModule = {
  kind: 'tls',
  fieldGroup: [],
  objects(ctx) {
    if (ctx.platform.routes || !ctx.tls || !ctx.managedCa) return [];
    return [tlsTypedSecret(ctx, caSecretName(ctx), { 'tls.crt': ctx.managedCa.cert, 'tls.key': ctx.managedCa.key }), tlsSecret(ctx)];
  },
};
