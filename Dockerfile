# syntax=docker/dockerfile:1
# Tessera service image. Build and push (docs/deploy.md):
#   docker build --platform linux/amd64 -t "$REPO:$TAG" . && docker push "$REPO:$TAG"
# service/test/image.test.ts reproduces the runtime stage without Docker and
# parses this file, so keep instructions in the forms used here (exec-form
# CMD/HEALTHCHECK, `npm ci` in RUN, COPY --from=build).

# ---- build: dev dependencies, TypeScript -> dist/, browser client -> dist/client/
# Node 24 LTS on Debian 13 trixie (glibc 2.41): the uWebSockets.js v20.57
# binaries need glibc >= 2.38 and ship for Node ABI 137.
FROM node:24-trixie-slim AS build
WORKDIR /app
# Manifests first: the dependency layer stays cached until they change.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the build output, nothing else
FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    DATA_DIR=/tmp/tessera
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script (the
# uWebSockets.js binaries are prebuilt in its package).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Files stay root-owned (the process cannot rewrite its own code); it runs as
# the image's unprivileged "node" user and writes only under DATA_DIR (/tmp).
USER node
EXPOSE 8080
# No curl in the slim image: node's fetch does the probe. (ECS ignores this and
# runs the equivalent check from the task definition.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# node itself is PID 1 and handles SIGTERM (drain, close sockets with 1001,
# exit within 10 s). Not `npm start`: npm does not forward signals reliably.
STOPSIGNAL SIGTERM
CMD ["node", "dist/service/src/main.js"]
