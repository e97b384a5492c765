// Keep-alive agents by TLS identity, for the requests to the API server.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/**
 * client-node hands out a new Agent for every request (so every request paid
 * a TCP and TLS handshake); requests with the same CA, client certificate and
 * server name share one here. A rotated certificate is a new identity, hence
 * a new agent.
 */
export class KeepAliveAgents {
  private readonly agents = new Map<string, http.Agent>();

  for(protocol: string, opts: https.RequestOptions): http.Agent {
    if (protocol === 'http:') return this.cached('http', () => new http.Agent({ keepAlive: true }));
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      servername: opts.servername,
      rejectUnauthorized: opts.rejectUnauthorized,
    };
    const key = createHash('sha256')
      .update(
        JSON.stringify(tls, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v)),
      )
      .digest('hex');
    return this.cached(key, () => new https.Agent({ ...tls, keepAlive: true, maxSockets: 16 }));
  }

  private cached(key: string, make: () => http.Agent): http.Agent {
    let agent = this.agents.get(key);
    if (!agent) {
      // Identities rarely change; drop the old agents' idle sockets when they do.
      if (this.agents.size >= 4) {
        for (const old of this.agents.values()) old.destroy();
        this.agents.clear();
      }
      agent = make();
      this.agents.set(key, agent);
    }
    return agent;
  }
}
