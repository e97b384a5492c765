// The contract for prompt difficulty scorers (heuristic today, learned later).

/** Scores how hard a prompt is, 0 (trivial) .. 1 (needs the strongest model). Must be pure and fast. */
export type DifficultyScorer = (prompt: string) => number;
