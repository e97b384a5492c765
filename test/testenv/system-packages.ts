// Debian packages the container and real-node tiers need (podman, containerd,
// runc, CNI plugins, iptables…). Tests install what they need rather than
// rely on a machine prepared by hand: a package that is missing is installed
// with apt-get when we are root, and otherwise the error says what to run.
import { spawnSync } from 'node:child_process';

/** The packages a program's presence stands for: dpkg -s answers for each. */
function missing(packages: readonly string[]): string[] {
  return packages.filter((name) => {
    const probe = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return probe.status !== 0 || !probe.stdout.includes('install ok installed');
  });
}

/**
 * Installs the Debian packages that are not installed yet. Idempotent and
 * cheap when all are present (one dpkg-query per package).
 */
export function ensureSystemPackages(packages: readonly string[]): void {
  const absent = missing(packages);
  if (absent.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${absent.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the Debian packages ${absent.join(', ')} are missing and only root can install them; run: sudo ${command}`,
    );
  }
  process.stderr.write(`testenv: installing ${absent.join(' ')} (Debian packages)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...absent], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  if (result.status !== 0) {
    // A fresh machine's package lists may be stale or empty: refresh once.
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...absent], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env,
    });
  }
  if (result.status !== 0) {
    throw new Error(
      `apt-get could not install ${absent.join(', ')} (exit ${String(result.status)}); see its output above, then run: ${command}`,
    );
  }
}
