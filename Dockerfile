# wan-mock as a container: `wan-mock serve` on 0.0.0.0:8000, as a non-root user. Listening
# beyond loopback, the control plane needs the admin token: give every replica the same one
# (WAN_MOCK_ADMIN_TOKEN), or each makes up its own. compose.yaml runs two replicas over Redis.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockserver ./mockserver
COPY contracts ./contracts
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin wan-mock
USER wan-mock
WORKDIR /home/wan-mock

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/openapi.json', timeout=2)"]
ENTRYPOINT ["wan-mock"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
