// Stops the control plane started by jest-global-setup.js and removes its data.
import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const dir = process.env.MODELROUTE_TESTENV_DIR;
  if (!dir) return;
  const { stopControlPlane } = await tsImport('./controlplane.ts', import.meta.url);
  await stopControlPlane(dir);
}
