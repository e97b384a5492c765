// `modelroute router train|eval`: trains the learned difficulty model from
// per-prompt results and measures a model with RouteLLM's metrics.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../routing/random.js';
import { loadExamples } from '../routing/difficulty/learned/dataset.js';
import { DifficultyModelError, loadDifficultyModel } from '../routing/difficulty/learned/model.js';
import { randomRouterMetrics, routerMetrics } from '../routing/difficulty/learned/metrics.js';
import {
  LABELS,
  DEFAULT_TRAIN_OPTIONS,
  serializeModel,
  trainDifficultyModel,
  type LabelKind,
} from '../routing/difficulty/learned/train.js';
import { trainDifficultyModelV2 } from '../routing/difficulty/learned/train-v2.js';
import type { CommandIO } from './validate.js';

export const ROUTER_USAGE = `usage:
  modelroute router train --data <csv|dir>... --weak <column> --strong <column> --out <model.json>
                          [--exclude <jsonl>...] [--name <name>] [--seed <n>] [--label ${LABELS.join('|')}]
                          [--features v2|v1]
  modelroute router eval  --model <model.json> --data <csv|dir>... --weak <column> --strong <column>
                          [--exclude <jsonl>...] [--json]

Data files are CSV with a "prompt" column and one column per model holding
True/False or a numeric score (higher is better); a directory stands for the
.csv files in it. --exclude takes JSONL files of prompts to leave out (field
"eval_prompt" or "prompt", or one JSON string per line).

eval prints n, apgr, cpt50, cpt80 and strong_share_for_95 (shares are 0..1)
with RouteLLM's definitions: a threshold sweep at the deciles of the model's
scores, APGR the normalised area under quality against strong-call share,
CPT(x) the strong share that recovers x of the gap between the two models;
"random" is a seeded random router on the same data (≈ 0.5 by construction).
train fits feature set v2 (what kind of task a prompt is, and its length and
structure; the shipped recipe) unless --features v1 asks for the old hashed
word n-grams. Files of either set load.
Evaluating on data the model was trained on measures nothing: hold data out.`;

const OPTIONS = {
  data: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  weak: { type: 'string' },
  strong: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  name: { type: 'string' },
  seed: { type: 'string' },
  label: { type: 'string' },
  features: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `--data a.csv b.csv` (what a shell glob gives) means `--data a.csv --data b.csv`. */
export function expandMultiValueFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  let current: string | undefined;
  for (const arg of argv) {
    if (arg.startsWith('-')) {
      current = flags.includes(arg) ? arg : undefined;
      if (current === undefined) out.push(arg);
      continue;
    }
    if (current !== undefined) out.push(current, arg);
    else out.push(arg);
  }
  return out;
}

function csvFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.toLowerCase().endsWith('.csv'))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}

const round = (x: number | null, digits = 4) => (x === null ? null : Number(x.toFixed(digits)));

export function runRouter(argv: string[], io: CommandIO): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(ROUTER_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'train' && sub !== 'eval') {
    io.err(`unknown router command "${sub}"\n\n${ROUTER_USAGE}`);
    return 2;
  }
  let values: {
    [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true }
      ? string[]
      : (typeof OPTIONS)[K] extends { type: 'boolean' }
        ? boolean
        : string;
  };
  try {
    ({ values } = parseArgs({
      args: expandMultiValueFlags(rest, ['--data', '--exclude']),
      options: OPTIONS,
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${ROUTER_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(ROUTER_USAGE);
    return 0;
  }
  const missing = ['data', 'weak', 'strong', sub === 'train' ? 'out' : 'model'].filter(
    (k) => values[k as keyof typeof values] === undefined,
  );
  if (missing.length > 0) {
    io.err(`router ${sub} needs ${missing.map((m) => `--${m}`).join(', ')}\n\n${ROUTER_USAGE}`);
    return 2;
  }
  const seed = values.seed === undefined ? DEFAULT_TRAIN_OPTIONS.seed : Number(values.seed);
  if (!Number.isSafeInteger(seed)) {
    io.err(`--seed must be an integer, not "${values.seed}"`);
    return 2;
  }
  if (values.label !== undefined && !(LABELS as readonly string[]).includes(values.label)) {
    io.err(`--label must be one of ${LABELS.join(', ')}, not "${values.label}"`);
    return 2;
  }

  if (values.features !== undefined && values.features !== 'v1' && values.features !== 'v2') {
    io.err(`--features must be v2 or v1, not "${values.features}"`);
    return 2;
  }

  let loaded;
  try {
    loaded = loadExamples(
      csvFiles(values.data ?? []),
      { weak: values.weak as string, strong: values.strong as string },
      values.exclude ?? [],
    );
  } catch (err) {
    io.err(`router ${sub}: ${(err as Error).message}`);
    return 1;
  }
  const { examples, excluded } = loaded;
  if (examples.length === 0) {
    io.err(`router ${sub}: no prompts left to use (${excluded} excluded)`);
    return 1;
  }

  if (sub === 'train') {
    const options = {
      seed,
      name: values.name ?? 'difficulty',
      ...(values.label ? { label: values.label as LabelKind } : {}),
    };
    const model =
      values.features === 'v1'
        ? trainDifficultyModel(examples, options)
        : trainDifficultyModelV2(examples, options);
    const text = serializeModel(model);
    writeFileSync(values.out as string, text);
    io.err(
      `trained ${model.name} on ${examples.length} prompts (${excluded} excluded): ${values.out} (${text.length} bytes)`,
    );
    return 0;
  }

  let model;
  try {
    model = loadDifficultyModel(values.model as string);
  } catch (err) {
    if (err instanceof DifficultyModelError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
  const scores = Float64Array.from(examples, (e) => model.score(e.prompt));
  const m = routerMetrics(scores, examples);
  const random = randomRouterMetrics(examples, seededRandom(seed), 20);
  const report = {
    model: model.name,
    n: m.n,
    excluded,
    weak_quality: round(m.weakQuality),
    strong_quality: round(m.strongQuality),
    apgr: round(m.apgr),
    cpt50: round(m.cpt50),
    cpt80: round(m.cpt80),
    strong_share_for_95: round(m.strongShareFor95),
    random: {
      apgr: round(random.apgr),
      cpt50: round(random.cpt50),
      cpt80: round(random.cpt80),
      strong_share_for_95: round(random.strongShareFor95),
    },
    curve: m.curve.map((p) => ({
      threshold: round(p.threshold),
      strong_share: round(p.strongShare),
      quality: round(p.quality),
    })),
  };
  if (values.json) io.out(JSON.stringify(report));
  else {
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
    io.out(
      `${report.model} on ${report.n} prompts (${excluded} excluded): weak ${report.weak_quality}, strong ${report.strong_quality}`,
    );
    io.out(
      `APGR ${report.apgr} (random ${report.random.apgr}); CPT(50%) ${pct(m.cpt50)}, CPT(80%) ${pct(m.cpt80)}; 95% of strong quality at ${pct(m.strongShareFor95)} strong calls`,
    );
  }
  return 0;
}
