// Reaching a port a pod serves on its own loopback (an injected sidecar
// listens on 127.0.0.1, for its app only): a forwarder runs inside the pod's
// network namespace and listens on a Unix socket, which the test's process
// reaches from the host. The requests then come from inside the pod, as the
// app's own would.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';

export interface PodPort {
  /** A fetch whose connections go to the pod's 127.0.0.1:<port>, whatever the URL's host. */
  fetch: typeof undiciFetch;
  close(): Promise<void>;
}

const FORWARDER = `
const net = require('node:net');
const [socketPath, port] = process.argv.slice(1);
net.createServer((client) => {
  const upstream = net.connect(Number(port), '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on('error', end);
  upstream.on('error', end);
}).listen(socketPath, () => process.stdout.write('listening\\n'));
`;

export async function forwardPodPort(netnsPath: string, port: number): Promise<PodPort> {
  const dir = mkdtempSync(join(tmpdir(), 'mr-podport-'));
  const socketPath = join(dir, 'port.sock');
  const child = spawn(
    'nsenter',
    [`--net=${netnsPath}`, process.execPath, '-e', FORWARDER, socketPath, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`the forwarder into ${netnsPath} exited (${String(code)})`)),
    );
    child.stdout.once('data', () => resolve());
  });
  const agent = new Agent({ connect: { socketPath } });
  return {
    fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: agent }),
    close: async () => {
      await agent.close();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
