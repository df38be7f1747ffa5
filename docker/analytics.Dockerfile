# gpu-analytics, the REST service: gunicorn through `gpu-analytics serve` (which migrates the
# database once in the master, then forks the workers), as a non-root user. The project with its
# `analytics` extra, plus `postgresql` (psycopg) for the several-replica deployment.
#
#   docker build -f docker/analytics.Dockerfile -t gpu-analytics .
#
# Without Docker, `make images` builds the same image (scripts/images.py): it reads the
# packages copied, the extra installed and the final stage's ENV, USER, EXPOSE, VOLUME,
# ENTRYPOINT and CMD from this file.
#   docker run -p 8080:8080 -v gpu-analytics:/var/lib/gpu-analytics gpu-analytics
#
# State: SQLite at /var/lib/gpu-analytics/analytics.db (GPU_ANALYTICS_DATA_DIR, a volume), or
# PostgreSQL from GPU_ANALYTICS_DATABASE_URL. The root filesystem may be read-only: the service
# writes only under the data directory and /tmp (gunicorn's worker heartbeat files).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# VERSION: the project's one version number (pyproject.toml reads it).
COPY pyproject.toml README.md VERSION ./
# The extra's wheels at pinned versions, hash-checked (`scripts/images.py lock` writes the file).
COPY docker/analytics.lock.txt ./
RUN /opt/venv/bin/pip install --no-compile --require-hashes --requirement=analytics.lock.txt
COPY analytics/ analytics/
COPY gpucatalog/ gpucatalog/
# As `make images` builds the venv: pip and setuptools (the venv's, from ensurepip) leave it
# before it is copied, so the runtime image holds no build tools; bytecode is checked by hash,
# not by mtime, so it stays valid whatever times COPY gives the files (buildah's COPY --from
# moved many by a second: their .pyc went stale, recompiled at every start on a read-only root).
# (lib, not the venv: its lib64 is a link to lib, and two compileall workers would race.)
RUN /opt/venv/bin/pip install --no-compile --no-deps ".[analytics,postgresql]" \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools \
    && /opt/venv/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash /opt/venv/lib

FROM ${PYTHON_IMAGE}
# OCI labels, as `make images` (scripts/images.py) sets them: pass
#   --build-arg VERSION="$(python3 scripts/images.py version)" --build-arg REVISION="$(git rev-parse HEAD)"
#   --build-arg SOURCE=https://your.git.host/k8s-gpu-management
ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="gpu-analytics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 gpu-analytics \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin gpu-analytics \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gpu-analytics
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GPU_ANALYTICS_DATA_DIR=/var/lib/gpu-analytics
VOLUME ["/var/lib/gpu-analytics"]
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gpu-analytics"]
CMD ["serve", "--bind", "0.0.0.0:8080", "--workers", "2"]
