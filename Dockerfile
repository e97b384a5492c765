# One image for every role: the entrypoint is the `modelroute` command, so the
# container's args pick `controller`, `proxy` (sidecar or gateway) or `dev`.
#   make image                      (docker, or podman where no Docker engine runs)
#   docker run --rm -p 8080:8080 modelroute:dev dev --simulate --host 0.0.0.0
# NODE_IMAGE is the base of both stages: the official Node LTS image by
# default. Any image with node and npm on PATH and a uid-1000 user will do; the
# tests build on one assembled locally from Debian packages and npm's Node
# binary package (test/image/build.ts), as no registry is reachable there.
ARG NODE_IMAGE=node:26-slim

# --- build: compile TypeScript, then drop dev dependencies -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
# No dependency needs an install script (npm runs none here by default either).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Benchmarks stay out of the production image: `modelroute bench` loads them
# lazily and says they are not in this image (src/cli/commands.ts). Type
# declarations and source maps of dependencies are never read at run time
# (about 100 of their 250 MB, most of it OpenTelemetry's).
RUN npm run build \
 && rm -rf dist/bench dist/cli/bench.js dist/cli/bench.js.map \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# --- runtime: production dependencies and compiled JS only ----------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
# Local mode (`dev`) serves the samples by default.
COPY --chown=root:root manifests/samples ./manifests/samples
# The image's `node` user, by number so runAsNonRoot can verify it. Files stay
# root-owned and read-only to it; the root filesystem can be mounted read-only.
USER 1000:1000
EXPOSE 8080 9901
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
