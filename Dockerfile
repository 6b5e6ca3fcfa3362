# avsc on CPU TensorFlow. Mirrors `make install`: a venv with the pinned constraints, the project
# installed into it. Multi-stage (build tools stay in the builder) and runs as a non-root user.
#   docker build -t avsc .
#   docker run --rm -v "$PWD:/work/avsc" avsc make run
FROM python:3.11-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/avsc
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade "pip>=24" \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt '.[test]'

FROM python:3.11-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends git make libsndfile1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 avsc
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MLFLOW_TRACKING_URI=sqlite:////work/avsc/mlruns/mlflow.db
WORKDIR /work/avsc
COPY --chown=avsc:avsc . .
USER avsc
# The Makefile's own .venv is not needed in the image: point it at the installed environment.
RUN mkdir -p .venv && ln -s /opt/venv/bin .venv/bin && touch .venv/.installed-stamp
CMD ["make", "run"]
