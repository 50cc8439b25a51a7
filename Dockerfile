# One image for every jetsaga service; the chart (or `docker run ... node services/<name>/dist/main.js`) picks the
# service. Stages: `build` compiles the workspaces, `dev` keeps the toolchain for Tilt's live updates, and the last
# stage is the small runtime image: production dependencies and compiled output only, non-root, nothing written
# outside /tmp (the charts mount it; the root filesystem can be read-only).
#
#   docker build -t jetsaga .                                   # runtime image
#   docker build --build-arg NODE_IMAGE=<your base> -t jetsaga .  # another Node 20+ base
#   docker build --target dev -t jetsaga:dev .                  # what the Tiltfile builds
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx tsc -b \
 && node web/build.mjs

FROM build AS dev
# Tilt syncs sources into /app and compiles in place: the app's files belong to the unprivileged user.
RUN chown -R 1000:1000 /app
USER 1000:1000
ENV NODE_ENV=development
CMD ["node", "services/gateway/dist/main.js"]

FROM build AS prune
RUN npm prune --omit=dev --no-audit --no-fund \
 && find packages services -path '*/src' -prune -exec rm -rf {} + \
 && find . -name '*.tsbuildinfo' -delete -o -name '*.map' -delete

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE=gateway
WORKDIR /app
ENV NODE_ENV=production \
    JETSAGA_SERVICE=${SERVICE}
COPY --from=prune --chown=0:0 /app/package.json /app/package-lock.json ./
COPY --from=prune --chown=0:0 /app/node_modules ./node_modules
COPY --from=prune --chown=0:0 /app/packages ./packages
COPY --from=prune --chown=0:0 /app/services ./services
# The console (web/dist): static files the gateway serves at /; nothing of web/'s toolchain is in the image.
COPY --from=prune --chown=0:0 /app/web/dist ./web/dist
# Files owned by root and not writable by the user the process runs as.
USER 1000:1000
EXPOSE 8080 9464
# exec: node is PID 1 and receives SIGTERM itself (runService drains NATS, finishes handlers, closes pools). As
# `npm start` does, the OpenTelemetry SDK is preloaded when an OTLP endpoint is set (the charts set the same command).
CMD ["sh", "-c", "if [ -n \"${OTEL_EXPORTER_OTLP_ENDPOINT:-}${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-}\" ]; then set -- --import ./packages/platform/dist/register.js; fi; exec node \"$@\" services/${JETSAGA_SERVICE}/dist/main.js"]
