// A stand-in adapter for a provider whose adapter is not built in this
// version: every call is refused with a clear 501, never sent anywhere.
import type { SyncProviderAdapter } from '../types.js';

export function unavailableAdapter(provider: string, telemetryName: string): SyncProviderAdapter {
  const message = `provider ${provider} is not supported by this proxy version`;
  return {
    telemetryName,
    supports: () => true,
    buildRequest: () => ({ ok: false, status: 501, message }),
    probeRequest: () => {
      throw new Error(message);
    },
    parseResponse: () => {
      throw new Error(message);
    },
    createStreamTranslator: () => ({
      complete: false,
      push: () => '',
      end: () => ({ tail: '', usage: undefined }),
    }),
    errorMessage: () => message,
  };
}
