# syntax=docker/dockerfile:1
#
# SKER in a container: one static binary on distroless, running as non-root,
# data in the /data volume. Build:   docker build -t sker .
#                               or docker compose build sker
# Run (embedded NATS and SQLite):  docker run -p 3000:3000 -v sker-data:/data sker
#
# No HEALTHCHECK here: distroless has no shell or curl to probe with. The
# liveness endpoint is GET /health on port 3000 (see docker-compose.yml).

# --- web UI -------------------------------------------------------------------
# Builds web/ into ui/dist/app (embedded by package ui). Only web/ comes in,
# its dependencies first: a change to the Go code reuses the built UI, and a
# change to the UI's sources reuses its installed dependencies.
FROM node:22-bookworm-slim AS web
WORKDIR /src
COPY web/package.json web/package-lock.json web/
RUN --mount=type=cache,target=/root/.npm \
    cd web && npm ci
COPY web/ web/
RUN mkdir -p ui/dist/app && cd web && npm run build

# --- Go binary ----------------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The built UI, where package ui embeds it (go:embed).
COPY --from=web /src/ui/dist/app ./ui/dist/app
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/sker ./cmd/sker && \
    mkdir -p /out/data

# --- runtime ------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/sker /app/sker
COPY --from=build /src/nats.conf /app/nats.conf
# The volume starts out owned by the non-root user (65532 in distroless).
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data \
    PORT=3000
VOLUME ["/data"]
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/app/sker"]
CMD ["serve"]
