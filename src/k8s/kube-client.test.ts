import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secrets } from './kinds.js';
import { createKubeClient } from './kube-client.js';
import { localKubeconfig } from './__fixtures__/local-kubeconfig.js';

test('requests reuse a kept-alive connection instead of one new connection each', async () => {
  let connections = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'PartialObjectMetadata', metadata: { name: 'x' } }));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = localKubeconfig(port);
  try {
    const client = createKubeClient({ kubeconfigPath: kubeconfig });
    for (let i = 0; i < 5; i++)
      expect(await client.exists(secrets, { namespace: 'team', name: 'openai' })).toBe(true);
    expect(requests).toBe(5);
    expect(connections).toBe(1);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
