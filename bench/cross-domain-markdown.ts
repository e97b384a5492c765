// The README's cross-domain router tables, printed by `npm run bench:router`
// so they are regenerated, never hand-edited.
import { POOLED, type Estimate } from '../src/routing/difficulty/learned/bootstrap.js';
import {
  GOALS,
  goals,
  type CrossDomainReport,
  type ProtocolReport,
  type ScopeReport,
} from './cross-domain.js';

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
/** `0.612 [0.590, 0.634]`: the figure on the data as given and its 95% interval. */
export const withCi = (e: Estimate) => `${f3(e.point)} [${f3(e.lo)}, ${f3(e.hi)}]`;
const diffCi = (e: Estimate) => `${signed(e.point)} [${signed(e.lo)}, ${signed(e.hi)}]`;
/** A random router: its mean and 95% band. */
const band = (e: Estimate) => `${f3(e.mean)} [${f3(e.lo)}, ${f3(e.hi)}]`;
const table = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

/** RouteLLM's published MMLU figure, shown only beside figures for a router trained on other data. */
function protocolTable(
  p: ProtocolReport,
  firstColumn: string,
  published: (scope: string) => string,
  pooledLabel: string,
): string {
  const entries = Object.entries(p.scopes);
  // One test set: its pooled figure is the set's own, one row says it.
  const shown = entries.length === 2 ? entries.filter(([scope]) => scope !== POOLED) : entries;
  const rows = shown.map(([scope, s]: [string, ScopeReport]) => [
    `${scope === POOLED ? pooledLabel : scope} (n = ${s.n})`,
    withCi(s.learned),
    withCi(s.length),
    withCi(s.heuristic),
    band(s.random),
    diffCi(s.vs.length),
    diffCi(s.vs.heuristic),
    diffCi(s.vs.random),
    published(scope),
  ]);
  return table(
    [
      firstColumn,
      'learned APGR [95% CI]',
      'length rule',
      'heuristic',
      'random [95% band]',
      'learned − length',
      'learned − heuristic',
      'learned − random',
      'RouteLLM published',
    ],
    rows,
  );
}

/** How far training noise moves the pooled learned figure (the intervals are about prompts). */
function seedNote(p: ProtocolReport): string {
  const s = (p.scopes[POOLED] as ScopeReport).learnedOverSeeds;
  return `Retrained with ${s.n} seeds, the learned mean of the domains is ${f3(s.mean)} ± ${f3(s.sd)} (sd): the intervals above are about the prompts, the first seed's model.`;
}

export function crossDomainMarkdown(r: CrossDomainReport, publishedMmlu: number): string {
  const lodo = r.leaveOneDomainOut;
  const [toGsm8k, toMmlu] = r.directions;
  const published = (scope: string) => (scope === POOLED ? String(publishedMmlu) : '—');
  const inSample = table(
    [
      'domain',
      'held out (trained on the other domains)',
      'in-sample (same recipe, trained on all)',
      'in-sample − held out',
      'shipped model (in-sample)',
    ],
    Object.entries(r.inSample).map(([scope, row]) => [
      `${scope === POOLED ? 'mean of the domains' : scope} (n = ${row.n})`,
      withCi(row.heldOut),
      withCi(row.inSample),
      diffCi(row.gap),
      withCi(row.shipped),
    ]),
  );
  const goalTable = table(
    [
      'protocol',
      `learned APGR (goal ≥ ${GOALS.apgr.toFixed(2)})`,
      `learned − length (goal ≥ +${GOALS.overLength.toFixed(2)}, CI above 0)`,
    ],
    goals(r).map((g) => [
      g.protocol,
      `${f3(g.apgr)} ${g.apgrMet ? 'met' : 'missed'}`,
      `${diffCi(g.overLength)} ${g.overLengthMet ? 'met' : 'missed'}`,
    ]),
  );
  return [
    `Leave one domain out (train on the other domains, test on this one; ${lodo.resamples} paired resamples):`,
    '',
    protocolTable(lodo, 'tested on', published, 'mean of the domains'),
    '',
    seedNote(lodo),
    '',
    `Across the data sets (${toGsm8k?.resamples ?? 0} paired resamples):`,
    '',
    toGsm8k ? protocolTable(toGsm8k, 'trained on MMLU, tested on', () => '—', 'GSM8K') : '',
    '',
    toMmlu
      ? protocolTable(toMmlu, 'trained on GSM8K, tested on', published, 'MMLU, mean of its domains')
      : '',
    '',
    'In-sample beside held-out (same prompts, paired):',
    '',
    inSample,
    '',
    'Goals (pooled figures):',
    '',
    goalTable,
  ].join('\n');
}
