FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
# The product's packages only: demo/ and bench/ stay in the repository.
COPY revops revops
COPY pipeline pipeline
COPY scorecard scorecard
COPY mechanisms mechanisms
COPY disputes disputes
COPY audit audit
COPY home home
RUN pip install --upgrade pip && pip install .

COPY manage.py ./
COPY templates templates
COPY static static
# Collect static files with throwaway settings; the real ones come from the environment.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-0123456789abcdefghijklmnopqrstuvwxyz \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 revops && mkdir -p /app/var && chown revops /app/var
USER revops
EXPOSE 8000
CMD ["gunicorn", "revops.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
