// A readable table of a `bench proxy` result, printed above the JSON when --json is not given.

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null ? (value as Json) : {};
}

function num(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : '-';
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
}

function table(title: string, header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [title, pad(header, widths), ...rows.map((r) => pad(r, widths)), ''];
}

const PATHS = ['direct', 'proxy', 'floor', 'peer'];

export function formatReport(result: Json): string[] {
  const lines: string[] = [];
  const load = obj(result.load);
  const seq = obj(result.sequential);
  const stream = obj(result.stream);
  const present = PATHS.filter((p) => p in load);

  lines.push(
    ...table(
      `open loop at ${num(result.rps)} rps (upstream ${num(load.upstream_latency_ms)} ms), ms:`,
      ['path', 'p50', 'p90', 'p99', '+p50', '+p99', 'errors', 'cpu us/req'],
      present.map((p) => {
        const f = obj(load[p]);
        const o = obj(f.overhead);
        return [
          p,
          num(f.p50_ms),
          num(f.p90_ms),
          num(f.p99_ms),
          num(o.p50_ms),
          num(o.p99_ms),
          num(obj(f.errors).total),
          num(f.cpu_us_per_request),
        ];
      }),
    ),
    ...table(
      `one at a time (upstream ${num(seq.upstream_latency_ms)} ms), ms:`,
      ['path', 'p50', 'p90', 'p99', '+p50', '+p99'],
      present.map((p) => {
        const f = obj(seq[p]);
        const o = obj(f.overhead);
        return [p, num(f.p50_ms), num(f.p90_ms), num(f.p99_ms), num(o.p50_ms), num(o.p99_ms)];
      }),
    ),
    ...table(
      `streaming, time to first token (upstream ttft ${num(stream.upstream_ttft_ms)} ms), ms:`,
      ['path', 'p50', 'p99', '+p50', '+p99'],
      present.map((p) => {
        const f = obj(stream[p]);
        return [
          p,
          num(f.ttft_p50_ms),
          num(f.ttft_p99_ms),
          num(f.ttft_overhead_ms),
          num(f.ttft_overhead_p99_ms),
        ];
      }),
    ),
  );
  const d = obj(result.decision);
  lines.push(
    `routing decision (${num(d.rules)} rules x ${num(d.backends)} backends, match at rule ${num(d.matched_rule)}): p50 ${num(d.p50_us)} us, p99 ${num(d.p99_us)} us`,
    `proxy RSS idle ${num(result.idle_rss_mb)} MB, after the run ${num(result.proxy_rss_mb)} MB; errors through the proxy ${num(result.errors)}`,
    '',
    'goals (reported, not asserted):',
  );
  const goals = Array.isArray(result.goals) ? result.goals : [];
  for (const g of goals) {
    const o = obj(g);
    const mark = o.met === true ? 'met   ' : o.met === false ? 'MISSED' : 'n/a   ';
    lines.push(`  ${mark} ${String(o.goal)} ${String(o.target)}: ${num(o.value)}`);
  }
  const peer = obj(result.peer);
  if (typeof peer.skipped === 'string') lines.push('', `peer skipped: ${peer.skipped}`);
  lines.push('');
  return lines;
}
