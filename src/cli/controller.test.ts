import { runController } from './controller.js';

// Only refusals: a valid command line would start the controller.
async function refused(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runController(
    argv,
    { out: () => {}, err: (l) => err.push(l) },
    { MODELROUTE_ADMIN_TOKEN: 'a-token-of-at-least-16-characters' },
  );
  return { code, err: err.join('\n') };
}

const webhook = ['--webhook-port=9443', '--webhook-service=modelroute-webhook'];

test('an unknown --sidecar-mode is refused naming the modes', async () => {
  expect(await refused([...webhook, '--proxy-image=m:1', '--sidecar-mode=sidecar'])).toEqual({
    code: 2,
    err: '--sidecar-mode must be one of native, container',
  });
});

test('the webhook needs the Service that names its certificate and the image it injects', async () => {
  const r = await refused(['--webhook-port=9443']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('--webhook-service is required with --webhook-port');
  expect((await refused(webhook)).err).toBe(
    '--proxy-image is required with --webhook-port (the image of the injected sidecar)',
  );
});

test('an unknown flag is refused with the usage', async () => {
  const r = await refused(['--sidecar']);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/Unknown option '--sidecar'[\s\S]*usage: modelroute controller/);
});

test('a bad --usage-interval is refused with an example', async () => {
  expect(await refused(['--usage-interval=often'])).toEqual({
    code: 2,
    err: '--usage-interval must be a duration such as "5m"',
  });
});

test('--credential-namespaces must list namespace names', async () => {
  for (const list of ['Platform', ',', 'platform,team_a']) {
    const r = await refused([...webhook, '--proxy-image=m:1', `--credential-namespaces=${list}`]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /--credential-namespaces must (be a comma-separated list|name at least one)/,
    );
  }
});

test('an unknown --unmatched-callers policy is refused naming the choices', async () => {
  expect(await refused(['--unmatched-callers=allow'])).toEqual({
    code: 2,
    err: '--unmatched-callers (or MODELROUTE_UNMATCHED_CALLERS) must be one of deny, default-tenant',
  });
});

test('the admin token is given one way: a token and --ensure-admin-token-secret together are refused', async () => {
  const r = await refused(['--ensure-admin-token-secret']);
  expect(r).toEqual({
    code: 2,
    err: 'give the admin token one way: --ensure-admin-token-secret (the controller keeps it in a Secret) or --admin-token-file / MODELROUTE_ADMIN_TOKEN, not both',
  });
});

test('sidecar resources must be quantities; a limit may be "" for none', async () => {
  const r = await refused([
    ...webhook,
    '--proxy-image=m:1',
    '--sidecar-memory-request=lots',
    '--sidecar-cpu-limit=fast',
  ]);
  expect(r.code).toBe(2);
  expect(r.err.split('\n')).toEqual([
    '--sidecar-memory-request must be a resource quantity such as 100m or 128Mi',
    '--sidecar-cpu-limit must be a resource quantity such as 100m or 128Mi, or "" for no limit',
  ]);
});
