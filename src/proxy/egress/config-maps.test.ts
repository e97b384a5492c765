import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configMapEnvName, readConfigMapKey } from './config-maps.js';

test('a ConfigMap key from the env first, else the mounted dir, else where it was looked for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-'));
  try {
    mkdirSync(join(dir, 'corp-roots'));
    writeFileSync(join(dir, 'corp-roots', 'ca.crt'), 'PEM');
    const ref = { name: 'corp-roots', key: 'ca.crt' };
    expect(configMapEnvName('corp-roots', 'ca.crt')).toBe('MODELROUTE_CONFIGMAP_CORP_ROOTS_CA_CRT');
    expect(readConfigMapKey({ env: {}, directory: dir }, ref)).toBe('PEM');
    expect(
      readConfigMapKey(
        { env: { MODELROUTE_CONFIGMAP_CORP_ROOTS_CA_CRT: 'ENV' }, directory: dir },
        ref,
      ),
    ).toBe('ENV');
    expect(() => readConfigMapKey({ env: {}, directory: dir }, { ...ref, key: 'x' })).toThrow(
      `ConfigMap "corp-roots" key "x" was not found in ${join(dir, 'corp-roots', 'x')} or env MODELROUTE_CONFIGMAP_CORP_ROOTS_X`,
    );
    expect(() => readConfigMapKey({ env: {}, directory: undefined }, ref)).toThrow(
      /not found in env MODELROUTE_CONFIGMAP_CORP_ROOTS_CA_CRT/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
