# syntax=docker/dockerfile:1
# Build stage: a wheel with the templates inside, installed into a virtual environment.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/clauses
COPY pyproject.toml README.md ./
COPY workflow ./workflow
COPY templates ./templates
RUN /opt/clauses/bin/pip install .

# Run stage: no compiler, no sources, a non-root user, data on a volume.
FROM python:3.11-slim-bookworm
RUN groupadd --system clauses \
    && useradd --system --gid clauses --home-dir /data --shell /usr/sbin/nologin clauses \
    && mkdir -p /data \
    && chown clauses:clauses /data
COPY --from=build /opt/clauses /opt/clauses
COPY config/clauses.example.toml /etc/clauses/clauses.example.toml
ENV PATH="/opt/clauses/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    CLAUSES_DATABASE_URL="sqlite:////data/clauses.db" \
    CLAUSES_MAIL_DIR="/data/mail"
WORKDIR /data
VOLUME ["/data"]
USER clauses
# `clauses serve --migrate` creates or upgrades the database, then runs the clock.
CMD ["clauses", "serve", "--migrate"]
