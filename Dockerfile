# hub360's container image: every role (adapters, project, serve, ...) from
# one image, as from one binary. It sits at the top of the repository
# because the build needs the whole tree as its context (`docker build .`);
# compose/docker-compose.yml builds it from there.
#
# Two stages on Debian 12. The build stage installs scripts/deps/build.txt
# with scripts/install-deps, the same list CMake names when a package is
# missing, and builds only the binary. The runtime stage installs
# scripts/deps/runtime.txt: the runtime libraries of those -dev packages
# and three tools (ca-certificates, curl for health checks, lmdb-utils for
# mdb_copy backups). tests/compose/packages.sh keeps the lists in step.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
COPY scripts/deps/ scripts/deps/
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DHUB360_REAL_KAFKA_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target hub360 \
 && cmake --install /build --prefix /opt/hub360 --strip

FROM debian:12
COPY scripts/install-deps /tmp/hub360/install-deps
COPY scripts/deps/runtime.txt /tmp/hub360/deps/runtime.txt
RUN /tmp/hub360/install-deps --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/hub360 \
 && useradd --system --uid 10360 --user-group --home-dir /var/lib/hub360 \
            --shell /usr/sbin/nologin hub360 \
 && install -d -o hub360 -g hub360 -m 0750 /var/lib/hub360 \
 && install -d -m 0755 /etc/hub360
COPY --from=build /opt/hub360/bin/hub360 /usr/local/bin/hub360

# The LMDB stores (views, offsets, poll cursors) live here: one volume per
# container that writes them. data_dir in /etc/hub360/hub360.yaml, or
# --data, names it.
VOLUME /var/lib/hub360
WORKDIR /var/lib/hub360
USER hub360
EXPOSE 8360

# For the roles that serve HTTP (serve, up). `adapters` answers /metrics
# only and `project` serves no HTTP: compose/docker-compose.yml gives
# those their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8360/healthz || exit 1

ENTRYPOINT ["hub360"]
CMD ["serve", "--config", "/etc/hub360/hub360.yaml"]
