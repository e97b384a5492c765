// When a control-plane change counts as accepted, and how long it took to
// reach the proxies, from readings of one clock (process.hrtime.bigint() in
// the bench process, where the write is made and the proxies install).
//
// The API server accepts a write at some moment between sending it and its
// answer arriving, and tells its watchers (the controller) at the same time
// as it answers. The controller's push can therefore reach a proxy in this
// process before this process has read the write's answer: on a busy 2-core
// machine the answer (a full object, parsed and validated) waits in the event
// loop behind the pushes. Timing from the answer alone then gave negative
// samples. A proxy holding the change proves the API server had accepted it,
// so the clock starts at the earlier of the answer and the first install:
// never later than the acceptance could have been, and no sample is negative.

export interface ChangeReadings {
  /** Just before the write was sent. */
  sentNs: bigint;
  /** When the write's answer (the new resourceVersion) was in hand. */
  answeredNs: bigint;
  /** When each proxy was seen holding the change (at least one). */
  installedNs: readonly bigint[];
  /** When the route's status showed the change programmed everywhere, if timed. */
  statusNs?: bigint | undefined;
}

export interface ChangeSpans {
  /** The clock's start: min(answer, first install). */
  acceptedNs: bigint;
  /** Accepted to the first and to the last proxy holding the change, µs. */
  firstProxyUs: number;
  lastProxyUs: number;
  /** Accepted to status programmed, µs (undefined if not timed). */
  statusUs: number | undefined;
  /** The write itself: sent to answered, µs. */
  writeUs: number;
  /** A proxy held the change before the write's answer was read. */
  answeredAfterInstall: boolean;
}

const us = (from: bigint, to: bigint): number => Number(to - from) / 1000;

export function changeSpans(r: ChangeReadings): ChangeSpans {
  if (r.installedNs.length === 0)
    throw new Error('changeSpans needs the install time of at least one proxy');
  if (r.answeredNs < r.sentNs)
    throw new Error(
      `the write's answer (${r.answeredNs} ns) precedes its sending (${r.sentNs} ns): readings from different clocks?`,
    );
  let first = r.installedNs[0] as bigint;
  let last = first;
  for (const t of r.installedNs) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  if (first < r.sentNs)
    throw new Error(
      `a proxy held the change (${first} ns) before the write was sent (${r.sentNs} ns): it was not this change`,
    );
  const acceptedNs = first < r.answeredNs ? first : r.answeredNs;
  if (r.statusNs !== undefined && r.statusNs < acceptedNs)
    throw new Error(
      `the status showed the change (${r.statusNs} ns) before it was accepted (${acceptedNs} ns)`,
    );
  return {
    acceptedNs,
    firstProxyUs: us(acceptedNs, first),
    lastProxyUs: us(acceptedNs, last),
    statusUs: r.statusNs === undefined ? undefined : us(acceptedNs, r.statusNs),
    writeUs: us(r.sentNs, r.answeredNs),
    answeredAfterInstall: first < r.answeredNs,
  };
}
