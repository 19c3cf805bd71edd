# The image compose.yaml builds: the compiled service on Node 24, production dependencies only.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# node directly, not npm: SIGTERM then reaches the process, which shuts down cleanly within 10 s.
CMD ["node", "dist/src/server.js"]
