// `npm run testenv -- build|up|down|status`: a real etcd + kube-apiserver for
// development. `up` writes .testenv/kubeconfig for kubectl, helm and the client.
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from './build.js';
import { startControlPlane, stopControlPlane, type ControlPlane } from './controlplane.js';
import { TESTENV_DIR, binaryPaths } from './paths.js';

const runDir = join(TESTENV_DIR, 'run');
const kubeconfigLink = join(TESTENV_DIR, 'kubeconfig');

function running(): ControlPlane | undefined {
  const stateFile = join(runDir, 'state.json');
  if (!existsSync(stateFile)) return undefined;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ControlPlane;
  try {
    process.kill(state.apiserverPid, 0);
    return state;
  } catch {
    return undefined;
  }
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'build':
      ensureBinaries();
      console.log(JSON.stringify(binaryPaths(), null, 2));
      return;
    case 'up': {
      ensureBinaries();
      const existing = running();
      if (existing) {
        console.log(
          `testenv already up at ${existing.apiserverUrl}\nexport KUBECONFIG=${kubeconfigLink}`,
        );
        return;
      }
      await stopControlPlane(runDir);
      const plane = await startControlPlane({ dir: runDir, detached: true });
      copyFileSync(plane.kubeconfig, kubeconfigLink);
      const { kubectl, helm } = binaryPaths();
      console.log(
        [
          `testenv up: kube-apiserver ${plane.apiserverUrl} (logs in ${runDir})`,
          `export KUBECONFIG=${kubeconfigLink}`,
          `kubectl: ${kubectl}`,
          `helm:    ${helm}`,
        ].join('\n'),
      );
      return;
    }
    case 'down': {
      const stopped = await stopControlPlane(runDir);
      rmSync(kubeconfigLink, { force: true });
      console.log(stopped ? 'testenv down' : 'testenv was not running');
      return;
    }
    case 'status': {
      const plane = running();
      console.log(plane ? `up at ${plane.apiserverUrl}; KUBECONFIG=${kubeconfigLink}` : 'down');
      if (!plane) process.exitCode = 3;
      return;
    }
    default:
      console.error('usage: npm run testenv -- build|up|down|status');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(`testenv: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
