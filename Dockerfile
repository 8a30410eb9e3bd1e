# infergate in a container. Untested here: the build machine has no Docker engine (see
# docs/deploy.md). The same steps (npm ci, npm prune --omit=dev, node dist/cli/index.js serve)
# are what CI runs on every change.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles when no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY . .
# npm ci builds dist/ (prepare). onnxruntime-node's install script only downloads CUDA files:
# .npmrc and package.json's allowScripts skip it too; this variable is onnxruntime-node's own switch.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    INFERGATE_HOST=0.0.0.0 \
    INFERGATE_DATA_DIR=/data
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:8000/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "dist/cli/index.js", "serve"]
