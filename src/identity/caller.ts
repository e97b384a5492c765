// Who a request comes from, as verified by the proxy: never a header the
// client wrote. Each kind of proxy learns it its own way:
//   sidecar: the pod it runs in (recorded by the injector at admission);
//   gateway: a ServiceAccount token (TokenReview) or a virtual API key;
//   local:   whoever started it (`--tenant`), since nothing can be verified.
export type Caller =
  | {
      kind: 'workload';
      namespace: string;
      serviceAccount: string;
      labels: Readonly<Record<string, string>>;
      pod?: string | undefined;
    }
  | { kind: 'service-account'; namespace: string; name: string }
  | { kind: 'api-key'; keyId: string; tenantId: string }
  | { kind: 'local'; tenant?: string | undefined };

/** A short, secret-free description for logs, traces and status: never a token or key. */
export function describeCaller(caller: Caller): string {
  switch (caller.kind) {
    case 'workload':
      return `workload ${caller.namespace}/${caller.pod ?? '?'} (serviceAccount ${caller.serviceAccount})`;
    case 'service-account':
      return `serviceAccount ${caller.namespace}/${caller.name}`;
    case 'api-key':
      return `apiKey ${caller.keyId}`;
    case 'local':
      return caller.tenant ? `local (as tenant ${caller.tenant})` : 'local';
  }
}
