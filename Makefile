.PHONY: install run test lint bench lock

install:
	scripts/setup.sh dev

run:
	scripts/run.sh

# Re-resolves uv.lock to the newest releases (docs/development.md); then `make test` and commit it.
lock:
	scripts/lock.sh

test:
	scripts/test.sh

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: install
	.venv/bin/python -m bench.ingest
	.venv/bin/python -m bench.analyzer
	.venv/bin/python -m bench.gateway
	.venv/bin/python -m bench.events
	.venv/bin/python -m bench.passthrough
	.venv/bin/python -m bench.recording
