# syntax=docker/dockerfile:1
#
# sealbox-agent: runs beside an application (init container with --once, then a sidecar). Build from the repository root:
#
#   docker build -f deploy/docker/agent.Dockerfile -t sealbox-agent:0.1.0 .
#
# `build` compiles agent/src to agent/dist (scripts/build.mjs), with agent/dist/bundle/: the agent as one ES module and a
# chunk for the YAML parser, its dependencies (zod/mini, yaml) inside, only Node's built-in modules outside. The runtime
# stage holds that bundle and no node_modules; it is distroless: no shell, uid 65532, nothing written outside the secret
# volume (read-only root friendly).

ARG BUILD_IMAGE=node:20-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json ./
COPY agent/package.json agent/
RUN npm ci --workspace=agent --ignore-scripts --no-audit --no-fund
COPY agent/ agent/
COPY scripts/build.mjs scripts/
# The same build as `npm ci` (scripts/build.mjs: esbuild, source maps; the bundle's zod and yaml come from node_modules here).
RUN node scripts/build.mjs --only agent

FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# What the ENTRYPOINT runs, and the package.json that makes its .js files ES modules.
COPY --from=build /build/agent/dist/bundle ./agent/dist/bundle
COPY agent/package.json ./agent/
USER 65532:65532
# The agent's `listen` endpoint (GET /health). An agent without `listen` (the --once init container) has no health
# endpoint; set SEALBOX_AGENT_HEALTHCHECK_URL when `listen` is not 127.0.0.1:8100.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "require('node:http').get(process.env.SEALBOX_AGENT_HEALTHCHECK_URL||'http://127.0.0.1:8100/health',{timeout:2000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
# V8 flags for a small, I/O-bound sidecar (issue 18; `npm run bench:agent` reads them from this line and measures the
# agent with them against an empty node process):
#   --max-semi-space-size=1  a 1 MB young generation instead of up to 16 MB (V8 grows it under allocation and keeps it)
#   --lite-mode              no optimising compilers (their code, and the pages of the node binary they touch), bytecode
#                            flushed sooner; the agent waits on the network, its JavaScript is not hot
#   --no-expose-wasm         lite mode turns WebAssembly off anyway (the agent uses none); this avoids its warning line
# --max-old-space-size is left at its default: it caps the heap, it does not shrink RSS, and a large secret needs room.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--lite-mode", "--no-expose-wasm", "agent/dist/bundle/main.js"]
CMD ["--config", "/etc/sealbox-agent/agent.yaml"]
