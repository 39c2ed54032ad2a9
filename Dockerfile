FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    DATABASE_URL=sqlite:////app/data/tunnel.db

WORKDIR /app
COPY setup.cfg pyproject.toml README.md requirements.txt ./
COPY sentra_tunnel ./sentra_tunnel
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --system --home-dir /app sentra \
    && mkdir -p /app/data && chown sentra /app/data

USER sentra
VOLUME ["/app/data"]
EXPOSE 8000
# Migrations first, so a new image upgrades the database before serving.
CMD ["sh", "-c", "sentra-tunnel migrate up && exec sentra-tunnel serve"]
