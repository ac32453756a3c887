FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ledger
COPY domain domain
COPY projections projections
COPY access access
COPY witness witness
COPY streams streams
COPY evidence evidence
COPY api api
COPY cadreledger cadreledger
RUN pip install --no-cache-dir . && useradd --create-home ledger && mkdir /keys && chown ledger /keys
USER ledger
EXPOSE 8000
CMD ["cadreledger", "serve", "--host", "0.0.0.0"]
