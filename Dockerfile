# syntax=docker/dockerfile:1
# KubeSentiment's two images, one build: the operator and the worker, each a runtime with only its own npm
# workspace's production dependencies (no ONNX Runtime in the operator, no Kubernetes client in the worker).
# Build from the repository root:
#   docker build --target operator -t kubesentiment-operator .
#   docker build --target worker -t kubesentiment-worker .

FROM node:20.19-bookworm-slim AS build
WORKDIR /src
# onnxruntime-node's install step would fetch CUDA files; the CPU build it ships with is all the worker uses.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
COPY common/package.json common/
COPY operator/package.json operator/
COPY worker/package.json worker/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common/src common/src
COPY operator/src operator/src
COPY worker/src worker/src
RUN npx tsc -p tsconfig.build.json

# npm ci starts from an empty node_modules: what each leaves is one workspace's production closure, in the
# root's node_modules and, for a package whose version the root's cannot hold (the worker's lru-cache), in the
# workspace's own (made empty when there is none, so the runtime stages can copy it either way). Type
# declarations only serve the compiler (26 MB of them in the operator's, most of it the Kubernetes client's).
FROM build AS operator-dependencies
RUN npm ci --omit=dev --workspace operator --no-audit --no-fund && mkdir -p operator/node_modules && \
    find node_modules operator/node_modules -type f -regex '.*\.d\.[cm]?ts' -delete

FROM build AS worker-dependencies
RUN npm ci --omit=dev --workspace worker --no-audit --no-fund && mkdir -p worker/node_modules && \
    find node_modules worker/node_modules -type f -regex '.*\.d\.[cm]?ts' -delete
# onnxruntime-node ships its native library for every platform (about 250 MB of them for macOS, Windows and the
# other Linux architecture); the image keeps the one it runs on, and fails here rather than at start without it.
RUN runtime="node_modules/onnxruntime-node/bin/napi-v6/linux/$(node -p process.arch)" && \
    find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d ! -path "$runtime" \
      -exec rm -rf {} + && \
    test -f "$runtime/onnxruntime_binding.node"

FROM node:20.19-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/dist/common common
# The image's unprivileged "node" user (uid 1000); the chart and the operator also set runAsNonRoot and a
# read-only root.
USER 1000:1000

FROM runtime AS operator
COPY --from=operator-dependencies /src/node_modules node_modules
COPY --from=operator-dependencies /src/operator/node_modules operator/node_modules
COPY --from=build /src/dist/operator operator
# The kubectl plugin's launchers, which run the compiled plugin beside them: node operator/bin/kubectl-sentiment.js
COPY operator/bin operator/bin
EXPOSE 8081
ENTRYPOINT ["node", "--enable-source-maps", "operator/src/main.js"]

FROM runtime AS worker
COPY --from=worker-dependencies /src/node_modules node_modules
COPY --from=worker-dependencies /src/worker/node_modules worker/node_modules
COPY --from=build /src/dist/worker worker
COPY worker/model worker/model
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "worker/src/main.js"]
