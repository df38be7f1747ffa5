# gpu-exporter, the node agent. Slim on purpose: the project with its `exporter` extra only
# (nvidia-ml-py, prometheus-client, grpcio, protobuf, kubernetes); no pandas, statsmodels or Flask.
#
#   docker build -f docker/exporter.Dockerfile -t gpu-exporter .
#
# Without Docker, `make images` builds the same image (scripts/images.py): it reads the
# packages copied, the extra installed and the final stage's ENV, USER, EXPOSE, VOLUME,
# ENTRYPOINT and CMD from this file.
#
# NVML is not in the image: the NVIDIA container runtime (nvidia-container-toolkit, or the
# GPU operator's RuntimeClass) mounts the driver's libnvidia-ml.so.1 and the /dev/nvidia* nodes
# into the container when NVIDIA_VISIBLE_DEVICES is set. The device nodes are world-readable,
# so NVML runs as the non-root user below; the Helm chart runs the container as uid 0 only to
# reach the kubelet's root-owned pod-resources socket (docs/deploy.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# VERSION: the project's one version number (pyproject.toml reads it).
COPY pyproject.toml README.md VERSION ./
# The extra's wheels at pinned versions, hash-checked (`scripts/images.py lock` writes the file).
COPY docker/exporter.lock.txt ./
RUN /opt/venv/bin/pip install --no-compile --require-hashes --requirement=exporter.lock.txt
# exporter/ imports gpucatalog/. The simulator is not in the server wheel (it runs from a
# checkout); tests/images mounts the checkout's simulator/ to run this image on simulated GPUs.
COPY exporter/ exporter/
COPY gpucatalog/ gpucatalog/
# As `make images` builds the venv: pip and setuptools (the venv's, from ensurepip) leave it
# before it is copied, so the runtime image holds no build tools; bytecode is checked by hash,
# not by mtime, so it stays valid whatever times COPY gives the files (buildah's COPY --from
# moved many by a second: their .pyc went stale, recompiled at every start on a read-only root).
# (lib, not the venv: its lib64 is a link to lib, and two compileall workers would race.)
RUN /opt/venv/bin/pip install --no-compile --no-deps ".[exporter]" \
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
LABEL org.opencontainers.image.title="gpu-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 gpu-exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin gpu-exporter
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=utility
USER 10001:10001
EXPOSE 9835
ENTRYPOINT ["gpu-exporter"]
