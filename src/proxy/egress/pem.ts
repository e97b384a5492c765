// PEM bundles without any X.509 library (the proxy loads none).

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates in a PEM bundle, in order. */
export function splitPemBundle(pem: string): string[] {
  return [...pem.matchAll(PEM_CERT)].map((m) => `${m[0]}\n`);
}
