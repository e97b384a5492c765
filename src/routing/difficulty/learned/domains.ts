// Domains for cross-domain evaluation: each data set, or part of one, that
// stands for a different kind of traffic. MMLU's 57 subjects fall into the
// four categories its authors use (STEM, humanities, social sciences, other),
// so leaving one category out tests a router on subjects of a kind it never
// saw; GSM8K (grade-school math word problems) is a domain of its own.
import type { Example } from './dataset.js';
import type { Split } from './evaluate.js';

export const DOMAINS = [
  'gsm8k',
  'mmlu-stem',
  'mmlu-humanities',
  'mmlu-social-sciences',
  'mmlu-other',
] as const;
export type Domain = (typeof DOMAINS)[number] | 'unknown';

// The MMLU paper's categories (Hendrycks et al., 2021; its repository's categories.py).
const MMLU_CATEGORY: Record<string, Exclude<Domain, 'gsm8k' | 'unknown'>> = {};
const assign = (domain: Exclude<Domain, 'gsm8k' | 'unknown'>, subjects: string) => {
  for (const s of subjects.split(/\s+/).filter(Boolean)) MMLU_CATEGORY[s] = domain;
};
assign(
  'mmlu-stem',
  `abstract_algebra anatomy astronomy college_biology college_chemistry college_computer_science
   college_mathematics college_physics computer_security conceptual_physics electrical_engineering
   elementary_mathematics high_school_biology high_school_chemistry high_school_computer_science
   high_school_mathematics high_school_physics high_school_statistics machine_learning`,
);
assign(
  'mmlu-humanities',
  `formal_logic high_school_european_history high_school_us_history high_school_world_history
   international_law jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy
   prehistory professional_law world_religions`,
);
assign(
  'mmlu-social-sciences',
  `econometrics high_school_geography high_school_government_and_politics
   high_school_macroeconomics high_school_microeconomics high_school_psychology human_sexuality
   professional_psychology public_relations security_studies sociology us_foreign_policy`,
);
assign(
  'mmlu-other',
  `business_ethics clinical_knowledge college_medicine global_facts human_aging management
   marketing medical_genetics miscellaneous nutrition professional_accounting
   professional_medicine virology`,
);

/**
 * The domain of an example's group (its file name): `mmlu_<subject>` by
 * MMLU category, anything starting with `gsm8k` is GSM8K; else `unknown`.
 */
export function domainOf(group: string): Domain {
  if (group.startsWith('gsm8k')) return 'gsm8k';
  const subject = group.replace(/^mmlu_/, '');
  return MMLU_CATEGORY[subject] ?? 'unknown';
}

/** Examples by domain, in DOMAINS order (domains with no examples left out; `unknown` last). */
export function byDomain(examples: readonly Example[]): Map<Domain, Example[]> {
  const out = new Map<Domain, Example[]>();
  for (const d of [...DOMAINS, 'unknown' as const]) {
    const xs = examples.filter((e) => domainOf(e.group) === d);
    if (xs.length > 0) out.set(d, xs);
  }
  return out;
}

/**
 * Leave one domain out: one split per domain, tested on that domain and
 * trained on all the others. `fold` is the domain's index in the result.
 */
export function leaveOneDomainOut(
  examples: readonly Example[],
  seed = 0,
): Array<Split & { domain: Domain }> {
  const groups = byDomain(examples);
  if (groups.size < 2)
    throw new Error(
      `leave-one-domain-out needs at least 2 domains, got ${groups.size} (${[...groups.keys()].join(', ') || 'none'})`,
    );
  return [...groups.entries()].map(([domain, test], fold) => ({
    domain,
    seed,
    fold,
    test,
    train: examples.filter((e) => domainOf(e.group) !== domain),
  }));
}
