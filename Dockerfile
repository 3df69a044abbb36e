# Portico's container image (docs/production.md). Debian's Node.js and npm only install the dependencies; the
# `node` dependency brings Node.js 24, which runs the gateway. Build and run:
#   docker build -t portico .
#   docker run --rm -p 8280:8280 -v "$PWD/examples:/etc/portico:ro" portico start --config /etc/portico/prototype.yaml --workers 2
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/portico
COPY package.json package-lock.json .npmrc ./
COPY console ./console
# Every dependency first, so that `prepare` builds the console with esbuild; then the dev dependencies go.
RUN npm ci --no-fund --no-audit \
 && npm prune --omit=dev --no-fund --no-audit \
 && rm -rf console/src console/build.ts console/tsconfig.json
COPY bin ./bin
COPY src ./src

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /opt/portico --shell /usr/sbin/nologin portico
COPY --from=build /opt/portico /opt/portico
# A config that needs no backend, so that the image answers as it is; mount yours over /etc/portico.
COPY examples/prototype.yaml /etc/portico/portico.yaml
COPY examples/prototype /etc/portico/prototype
USER portico
WORKDIR /opt/portico
EXPOSE 8280
# The admin port (/health, /metrics) listens on 127.0.0.1 unless the config says otherwise: checked from inside.
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["/opt/portico/node_modules/node/bin/node", "-e", "fetch('http://127.0.0.1:9901/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/opt/portico/bin/portico"]
CMD ["start", "--config", "/etc/portico/portico.yaml"]
