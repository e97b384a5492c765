// Bounded waiting for asynchronous convergence: retries an assertion until it
// passes or the deadline is reached, then rethrows the last failure.
export async function eventually(
  check: () => void | Promise<void>,
  timeoutMs = 10_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
