# One image for the registry and its operator.
#   registry:  node --max-semi-space-size=2 /app/dist/registry/main.js serve --config /conf/stack/config.yaml   (the default;
#              the flag is config/node.ts REGISTRY_NODE_FLAGS)
#   operator:  node --optimize-for-size --max-semi-space-size=1 --max-old-space-size=96 /app/dist/operator/main.js
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY config ./config
COPY registry ./registry
COPY operator ./operator
# The registry (tsc) and the web UI (Vite, into dist/ui); the UI's packages are build-time only.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The superuser change log (GET /api/v1/superuser/changelog/) reads it from the install's top directory.
COPY CHANGELOG.md ./CHANGELOG.md
# Quay's images run as an arbitrary non-root user (OpenShift assigns one); nothing here needs root.
USER 1001
EXPOSE 8080
CMD ["node", "--max-semi-space-size=2", "/app/dist/registry/main.js", "serve", "--config", "/conf/stack/config.yaml"]
