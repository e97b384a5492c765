// The proxy's V8 young generation, kept at its starting size (1 MB per semi-space).
import { setFlagsFromString } from 'node:v8';

/**
 * V8 doubles the young generation whenever enough of it survives a scavenge,
 * up to 16 MB per semi-space (32 MB in all). Module loading at start already
 * drives it to the maximum, and the pages stay resident: an idle sidecar held
 * 33.6 MB of new space with 1.8 MB in use (measured from its
 * nodejs_heap_space_size_* metrics). A proxy's per-request garbage dies young
 * whatever the space's size, and a scavenge's pause grows with the survivors
 * (requests in flight), not with the space, so a small space costs more
 * frequent but no longer pauses; see /work/wt/notes/rss-profile.md for the
 * figures. The growth factor, unlike --max-semi-space-size, is read each time
 * V8 considers growing the space, so setting it from inside the process
 * works, provided it runs before the proxy's modules load.
 *
 * Left alone when the operator sized the young generation (NODE_OPTIONS or
 * node flags naming a semi-space size): theirs wins.
 */
export function keepYoungGenerationSmall(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): boolean {
  const sized = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((flag) =>
    /^--(max|min)[-_]semi[-_]space[-_]size\b|^--semi[-_]space[-_]growth[-_]factor\b/.test(flag),
  );
  if (sized) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
