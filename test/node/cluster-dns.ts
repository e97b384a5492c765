// Cluster DNS for the real node, reduced to what modelroute's pods look up:
// A records of Services (<service>.<namespace>.svc.cluster.local → its
// ClusterIP), read from the API server. It listens on the node's bridge
// address (the kubelet's clusterDNS), so pods reach it and nothing else
// does, and it forwards nothing: any other name is NXDOMAIN, which keeps
// the pods' traffic local. (No CoreDNS image can be pulled here.)
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { ControlPlane } from '../testenv/controlplane.js';

export interface ClusterDns {
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;
/** Seconds: Services are created during the test. */
const TTL = 2;

interface Question {
  name: string;
  type: number;
  /** Offset after the question: the answer section starts here. */
  end: number;
}

function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const length = msg[at];
    if (length === undefined || length > 63) return undefined;
    at += 1;
    if (length === 0) break;
    labels.push(
      msg
        .subarray(at, at + length)
        .toString('ascii')
        .toLowerCase(),
    );
    at += length;
  }
  if (at + 4 > msg.length) return undefined;
  return { name: labels.join('.'), type: msg.readUInt16BE(at), end: at + 4 };
}

/** The answer to `query`: its header and question, then one A record when `ip` is known. */
export function dnsAnswer(
  query: Buffer,
  lookup: (name: string) => string | undefined | null,
): Buffer {
  const question = parseQuestion(query);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, the query's opcode and RD, RA (a datagram too short for flags has none).
  const flags = 0x8000 | (query.length >= 4 ? query.readUInt16BE(2) & 0x7900 : 0) | 0x0080;
  if (!question) {
    header.writeUInt16BE(flags | RCODE_FORMERR, 2);
    return header;
  }
  const ip = lookup(question.name);
  header.writeUInt16BE(flags | (ip === undefined ? RCODE_NXDOMAIN : 0), 2);
  header.writeUInt16BE(1, 4);
  const parts = [header, query.subarray(12, question.end)];
  if (ip && question.type === TYPE_A) {
    header.writeUInt16BE(1, 6);
    const answer = Buffer.alloc(16);
    answer.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    answer.writeUInt16BE(TYPE_A, 2);
    answer.writeUInt16BE(CLASS_IN, 4);
    answer.writeUInt32BE(TTL, 6);
    answer.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => answer.writeUInt8(Number(octet), 12 + i));
    parts.push(answer);
  }
  return Buffer.concat(parts);
}

interface ServiceList {
  items: { metadata: { name: string; namespace: string }; spec: { clusterIP?: string } }[];
}

/**
 * Serves DNS on `address`:53. A name the cache does not know refreshes it
 * from the API server once (at most every 200 ms) before answering NXDOMAIN.
 */
export async function startClusterDns(
  address: string,
  plane: ControlPlane,
  clusterDomain = 'cluster.local',
): Promise<ClusterDns> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(plane.caFile) } });
  let records = new Map<string, string>();
  let refreshed = 0;
  let refreshing: Promise<void> | undefined;
  const refresh = async (): Promise<void> => {
    const res = await fetch(`${plane.apiserverUrl}/api/v1/services`, {
      headers: { Authorization: `Bearer ${plane.adminToken}` },
      dispatcher,
    });
    if (!res.ok) return;
    const list = (await res.json()) as ServiceList;
    const next = new Map<string, string>();
    for (const svc of list.items) {
      const ip = svc.spec.clusterIP;
      if (ip && ip !== 'None') {
        next.set(`${svc.metadata.name}.${svc.metadata.namespace}.svc.${clusterDomain}`, ip);
      }
    }
    records = next;
    refreshed = Date.now();
  };
  /** undefined: no such name; null: the name exists with no address of the asked type. */
  const resolve = async (name: string): Promise<string | undefined> => {
    if (
      !records.has(name) &&
      name.endsWith(`.svc.${clusterDomain}`) &&
      Date.now() - refreshed > 200
    ) {
      refreshing ??= refresh().finally(() => (refreshing = undefined));
      await refreshing.catch(() => undefined);
    }
    return records.get(name);
  };
  await refresh();

  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, peer) => {
    const name = parseQuestion(msg)?.name ?? '';
    void resolve(name).then((ip) => {
      socket.send(
        dnsAnswer(msg, () => ip),
        peer.port,
        peer.address,
      );
    });
  });
  await new Promise<void>((ok, fail) => {
    socket.once('error', fail);
    socket.bind(53, address, () => ok());
  });
  return {
    close: async () => {
      await new Promise<void>((r) => socket.close(() => r()));
      await dispatcher.close();
    },
  };
}
