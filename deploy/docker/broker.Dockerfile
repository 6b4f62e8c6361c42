# syntax=docker/dockerfile:1
#
# The sealbox broker. Build from the repository root:
#
#   docker build -f deploy/docker/broker.Dockerfile -t sealbox:0.1.0 .
#
# Three stages: `build` compiles src/ to JavaScript (no TypeScript loader at run time), `deps` installs the production
# dependencies only, and the runtime stage is distroless: no shell, no package manager, uid 65532. The broker writes
# nothing to its root filesystem when SEALBOX_DATABASE_URL points at PostgreSQL, so it runs with a read-only root
# (the embedded PGlite store, for a single node, needs a writable volume at SEALBOX_DATA instead).
#
# Configuration comes from the environment (SEALBOX_*) or `server --config FILE` (JSON); see deploy/k8s/broker.

ARG BUILD_IMAGE=node:20-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
COPY agent/package.json agent/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.mjs scripts/build-ui.mjs scripts/
COPY src/ src/
# The web console's sources (bundled into ui/dist/ by the same build).
COPY ui/ ui/
# The same build as `npm ci` (scripts/build.mjs: esbuild, source maps), without the PGlite data-directory
# template: a container's first start on a new PGlite volume runs initdb instead (seconds, once).
RUN node scripts/build.mjs --only broker --no-template

FROM ${BUILD_IMAGE} AS deps
WORKDIR /build
COPY package.json package-lock.json ./
COPY agent/package.json agent/
# The root package only: the agent workspace has its own image.
RUN npm ci --omit=dev --workspaces=false --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
    SEALBOX_LISTEN=0.0.0.0:8200 \
    SEALBOX_DATA=/var/lib/sealbox
COPY --from=deps /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY --from=build /build/ui/dist ./ui/dist
COPY package.json ./
COPY migrations/ ./migrations/
USER 65532:65532
EXPOSE 8200
# Liveness of the process only: sealed and uninitialised brokers answer 200 here (readiness is the orchestrator's
# job, see the Kubernetes probes). No shell: exec form with node. Loopback only, so the certificate is not checked;
# set SEALBOX_HEALTHCHECK_URL when the broker listens elsewhere or with TLS (https://127.0.0.1:8200/...).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "const u=new URL(process.env.SEALBOX_HEALTHCHECK_URL||'http://127.0.0.1:8200/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200');require(u.protocol==='https:'?'node:https':'node:http').get(u,{rejectUnauthorized:false,timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["server"]
