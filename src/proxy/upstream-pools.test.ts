import { jest } from '@jest/globals';
import type { CompiledBackend } from '../routing/table.js';
import { BackendTls } from './egress/backend-tls.js';
import { UpstreamPools } from './upstream-pools.js';

const backend = (id: string, tls?: CompiledBackend['tls']) => ({ id, tls }) as CompiledBackend;
const ORIGIN = 'https://llm.internal:8443';

describe('upstream pools', () => {
  const pem = 'A';
  const tls = new BackendTls({
    // Any text passes the reading; these pools never connect. serverName carries the change.
    secret: () => pem,
    configMap: () => pem,
    now: () => 0,
    recheckMs: 0,
  });

  test('one pool per origin and timeout; TLS settings never share one', async () => {
    const pools = new UpstreamPools({ tls });
    const plain = pools.forBackend(backend('a'), ORIGIN, 1000);
    expect(pools.forBackend(backend('b'), ORIGIN, 1000)).toBe(plain);
    expect(pools.get(ORIGIN, 1000)).toBe(plain);
    expect(pools.forBackend(backend('a'), ORIGIN, 2000)).not.toBe(plain);
    const named = pools.forBackend(backend('c', { serverName: 'x' }), ORIGIN, 1000);
    expect(named).not.toBe(plain);
    // The same material, another backend: shared.
    expect(pools.forBackend(backend('d', { serverName: 'x' }), ORIGIN, 1000)).toBe(named);
    await pools.close();
  });

  test('a pool left behind by changed settings is closed once no backend uses it', async () => {
    const pools = new UpstreamPools({ tls });
    const first = pools.forBackend(backend('c', { serverName: 'x' }), ORIGIN, 1000);
    pools.forBackend(backend('d', { serverName: 'x' }), ORIGIN, 1000);
    const closed = jest.spyOn(first, 'close');
    pools.forBackend(backend('c', { serverName: 'y' }), ORIGIN, 1000);
    expect(closed).not.toHaveBeenCalled(); // d still uses it
    pools.forBackend(backend('d', { serverName: 'y' }), ORIGIN, 1000);
    expect(closed).toHaveBeenCalled();
    expect(pools.forBackend(backend('e', { serverName: 'x' }), ORIGIN, 1000)).not.toBe(first);
    await pools.close();
  });

  test('missing TLS material throws for that backend only', () => {
    const failing = new UpstreamPools({
      tls: new BackendTls({
        secret: () => {
          throw new Error('Secret "ca" key "ca.crt" was not found');
        },
        configMap: () => '',
        now: () => 0,
      }),
    });
    expect(() =>
      failing.forBackend(
        backend('x', { caBundle: { kind: 'Secret', name: 'ca', key: 'ca.crt' } }),
        ORIGIN,
        1000,
      ),
    ).toThrow(
      /backend x: spec.tls.caBundle cannot be read: Secret "ca" key "ca.crt" was not found/,
    );
    expect(failing.forBackend(backend('y'), ORIGIN, 1000)).toBeDefined();
    return failing.close();
  });
});
