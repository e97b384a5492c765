// Builds kube-apiserver, kubectl, etcd and helm, and the node components
// (kubelet, kube-scheduler, kube-controller-manager, kube-proxy) for the
// real-node tier, from Go modules when they are missing. Binaries are cached under .testenv/bin/<tool>-<version>/, so a
// changed pin in versions.env builds afresh and an unchanged one costs nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TOOLS_DIR, binaryPaths, pinnedVersions } from './paths.js';

function goBuild(moduleDir: string, pkg: string, out: string, ldflags: string): void {
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.partial`;
  const started = Date.now();
  process.stderr.write(`testenv: building ${pkg} (cold builds take minutes on 2 cores)\n`);
  const result = spawnSync('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, pkg], {
    cwd: moduleDir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false' },
  });
  if (result.error) {
    throw new Error(
      `cannot run go (${result.error.message}); install Go 1.26+ to build the test binaries`,
    );
  }
  if (result.status !== 0) {
    throw new Error(
      `go build ${pkg} failed with exit ${String(result.status)}; see the output above`,
    );
  }
  renameSync(tmp, out);
  process.stderr.write(
    `testenv: built ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

function versionLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major ?? ''}`,
      `-X ${pkg}.gitMinor=${minor ?? ''}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return flags.join(' ');
}

/**
 * promtool (Prometheus 3's, module github.com/prometheus/prometheus), built on
 * demand by the test that needs it (test/install/monitoring.test.ts) rather
 * than by `testenv build`: from a cold Go build cache it took 887 s on 2 cores
 * (beside a kube build), with the cache warm 9 s. Cached like the others.
 */
export function ensurePromtool(): string {
  const versions = pinnedVersions();
  const out = binaryPaths(versions).promtool;
  if (!existsSync(out)) {
    // v0.316.0 is Prometheus 3.16.0: the module's v0.3XY.Z tags stand for 3.XY.Z.
    const release = versions.promtool.replace(/^v0\.3(\d+)\.(\d+)$/, '3.$1.$2');
    goBuild(
      join(TOOLS_DIR, 'promtool'),
      'github.com/prometheus/prometheus/cmd/promtool',
      out,
      `-s -w -X github.com/prometheus/common/version.Version=${release}`,
    );
  }
  return out;
}

export function ensureBinaries(): void {
  const versions = pinnedVersions();
  const bins = binaryPaths(versions);
  const kubeModule = join(TOOLS_DIR, 'kube');
  const kubeFlags = versionLdflags(versions.kube);
  const wanted: [string, string, string, string][] = [
    [bins.kubeApiserver, kubeModule, 'k8s.io/kubernetes/cmd/kube-apiserver', kubeFlags],
    [bins.kubectl, kubeModule, 'k8s.io/kubernetes/cmd/kubectl', kubeFlags],
    [bins.etcd, kubeModule, 'go.etcd.io/etcd/server/v3', '-s -w'],
    [bins.kubelet, kubeModule, 'k8s.io/kubernetes/cmd/kubelet', kubeFlags],
    [bins.kubeScheduler, kubeModule, 'k8s.io/kubernetes/cmd/kube-scheduler', kubeFlags],
    [
      bins.kubeControllerManager,
      kubeModule,
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      kubeFlags,
    ],
    [bins.kubeProxy, kubeModule, 'k8s.io/kubernetes/cmd/kube-proxy', kubeFlags],
    [
      bins.helm,
      join(TOOLS_DIR, 'helm'),
      'helm.sh/helm/v3/cmd/helm',
      `-s -w -X helm.sh/helm/v3/internal/version.version=${versions.helm}`,
    ],
  ];
  for (const [out, moduleDir, pkg, ldflags] of wanted) {
    if (!existsSync(out)) goBuild(moduleDir, pkg, out, ldflags);
  }
}
