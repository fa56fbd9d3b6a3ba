# corrections 社区矫正: the service image. Built from the wheel, so the image holds exactly what
# `pip install .` installs (rules and the default model ship as package data).
#
#   docker build -t corrections .
#   docker compose up            # compose.yaml: PostgreSQL, the service, the scheduler
#
# One image, several processes: the command picks one (corrections-entrypoint serve |
# scheduler | migrate | check | any corrections subcommand).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY corrections ./corrections
COPY rules ./rules
COPY models ./models
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
# pg_dump / pg_restore for `corrections backup` against PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /var/lib/corrections corrections
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "corrections[postgres]" \
 && rm -rf /wheels
USER corrections
WORKDIR /var/lib/corrections
ENV CORRECTIONS_INSTANCE_PATH=/var/lib/corrections/instance \
    CORRECTIONS_BACKUP_DIR=/var/lib/corrections/backups \
    CORRECTIONS_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
ENTRYPOINT ["corrections-entrypoint"]
CMD ["serve"]
