import { describe, expect, it } from '@jest/globals';
import { callerAttribution } from './caller-attribution.js';

describe('callerAttribution', () => {
  it('names the workload by its app label, else its ServiceAccount, key or local', () => {
    const labels = { 'app.kubernetes.io/name': 'checkout', app: 'old' };
    expect(
      callerAttribution({ kind: 'workload', namespace: 'shop', serviceAccount: 'sa', labels }),
    ).toEqual({ namespace: 'shop', workload: 'checkout' });
    expect(
      callerAttribution({ kind: 'workload', namespace: 'shop', serviceAccount: 'sa', labels: {} }),
    ).toEqual({ namespace: 'shop', workload: 'sa' });
    expect(callerAttribution({ kind: 'service-account', namespace: 'ml', name: 'batch' })).toEqual({
      namespace: 'ml',
      workload: 'batch',
    });
    expect(callerAttribution({ kind: 'api-key', keyId: 'k1', tenantId: 'team-a/t' })).toEqual({
      namespace: 'team-a',
      workload: 'apikey:k1',
    });
    expect(callerAttribution({ kind: 'local' })).toEqual({ namespace: '', workload: 'local' });
  });
});
