// Starts one real etcd + kube-apiserver for the control-plane test files and
// tells them where it is through environment variables (read by
// test/support/cluster.ts). Binaries are built first if missing.
// Plain JS: jest loads global setup outside its transform, so TypeScript
// modules are imported through tsx.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { ensureBinaries } = await tsImport('./build.ts', import.meta.url);
  const { startControlPlane } = await tsImport('./controlplane.ts', import.meta.url);
  const { binaryPaths } = await tsImport('./paths.ts', import.meta.url);
  ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-testenv-'));
  const plane = await startControlPlane({ dir, stopWithParent: true });
  const bins = binaryPaths();
  process.env.MODELROUTE_TESTENV_DIR = dir;
  process.env.MODELROUTE_TEST_KUBECONFIG = plane.kubeconfig;
  process.env.MODELROUTE_TEST_KUBECTL = bins.kubectl;
  process.env.MODELROUTE_TEST_HELM = bins.helm;
}
