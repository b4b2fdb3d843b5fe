# camstream: one image for ingest, analyzer, recorder, bridge and gateway (docker-compose.yml picks the command).
FROM python:3.11-slim

# What the wheels need beyond the slim base: OpenMP for onnxruntime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 camstream

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY scripts ./scripts
COPY shared ./shared
COPY ingest ./ingest
COPY analyzer ./analyzer
COPY gateway ./gateway
COPY recorder ./recorder
COPY bridge ./bridge
# The same install step as the README's commands: a .venv holding exactly uv.lock (hashes checked;
# a lock that does not match pyproject.toml fails the build), then the person model converted to
# ONNX once, so that workers start at once.
# `--build-arg EXTRAS=openvino` adds the OpenVINO runtime (CAMSTREAM_ANALYZER_PROVIDER=OpenVINO).
ARG EXTRAS=""
ENV CAMSTREAM_MODEL_CACHE_DIR=/app/model-cache
RUN scripts/setup.sh $EXTRAS \
 && rm -rf /root/.cache \
 && .venv/bin/python -c "from pathlib import Path; from analyzer.persons import builtin_model; builtin_model(Path('/app/model-cache'))" \
 && chown -R camstream /app \
 && mkdir -p /data && chown camstream /data

# Durable state (the SQLite database) lives here; compose mounts a named volume on it.
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 CAMSTREAM_DATA_DIR=/data
USER camstream
EXPOSE 8000
CMD ["python", "-m", "gateway"]
