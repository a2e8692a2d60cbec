# The image of both production processes: `node scripts/launch.js api` or `… worker`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY activities ./activities
COPY common ./common
COPY config ./config
COPY standalone ./standalone
COPY storage ./storage
COPY telemetry ./telemetry
COPY upstream ./upstream
COPY webhooks ./webhooks
COPY notifications ./notifications
COPY worker ./worker
COPY workflows ./workflows
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY scripts ./scripts
# The data volume is owned by the unprivileged user that runs the processes.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8000
CMD ["node", "scripts/launch.js", "api"]
