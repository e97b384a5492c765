// Runs independent API calls a few at a time: one reconcile may write a
// thousand statuses, and one at a time they cost a round trip each, while all
// at once they would flood the API server (and its priority and fairness).

/**
 * Calls `fn` for every item with at most `limit` calls in flight. Every call
 * runs even if one fails; then the first failure is thrown.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}
