// The real node's cluster DNS answers as resolvers expect: Node's own
// resolver (c-ares) reads its A records and NXDOMAIN, and no query, however
// malformed, makes it throw or answer for another query id.
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { dnsAnswer } from './cluster-dns.js';

const SERVICES: Record<string, string> = {
  'sim-gpt-4o.e2e.svc.cluster.local': '10.77.128.17',
};
const lookup = (name: string) => SERVICES[name];

test('a resolver gets the ClusterIP of a Service name, and NXDOMAIN for any other name', async () => {
  const socket = createSocket('udp4');
  socket.on('message', (msg, peer) => socket.send(dnsAnswer(msg, lookup), peer.port, peer.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  try {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${socket.address().port}`]);
    expect(await resolver.resolve4('sim-gpt-4o.e2e.svc.cluster.local')).toEqual(['10.77.128.17']);
    // Case does not matter in DNS names.
    expect(await resolver.resolve4('SIM-gpt-4o.e2e.svc.cluster.local')).toEqual(['10.77.128.17']);
    await expect(resolver.resolve4('api.openai.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    // The name exists, with no IPv6 address: no data, not NXDOMAIN.
    await expect(resolver.resolve6('sim-gpt-4o.e2e.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENODATA',
    });
  } finally {
    socket.close();
  }
});

test('any datagram gets an answer with its id and the response bit, never an exception (seeded fuzz)', () => {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 5000; i += 1) {
    const length = 2 + (next() % 80);
    const msg = Buffer.alloc(length);
    for (let j = 0; j < length; j += 1) msg[j] = next() % 256;
    // Half of them look like one-question queries, to reach the name parser.
    if (i % 2 === 0 && length >= 12) msg.writeUInt16BE(1, 4);
    const answer = dnsAnswer(msg, lookup);
    expect(answer.length).toBeGreaterThanOrEqual(12);
    expect(answer.readUInt16BE(0)).toBe(msg.readUInt16BE(0));
    expect(answer.readUInt16BE(2) & 0x8000).toBe(0x8000);
  }
});
