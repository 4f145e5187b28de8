# Every target works on a fresh machine with Python 3.11+: the virtualenv is made on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench fuzz crosscheck renderers portal-assets examples lock base-image clean

# The runtime dependencies come from requirements.lock, hash-checked, as in the image; the
# dev tools from pyproject.toml's dev extra.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## serve on 127.0.0.1:8080, embedded catalogue, no Redis
	RAPPORT_BIND=$${RAPPORT_BIND:-127.0.0.1:8080} $(BIN)/gunicorn -c gunicorn.conf.py service.wsgi:app

lint: $(STAMP)  ## ruff, mypy --strict, and the content checker
	$(BIN)/ruff check service tests benchmarks harness gunicorn.conf.py
	$(BIN)/ruff format --check service tests benchmarks harness gunicorn.conf.py
	$(BIN)/mypy
	$(BIN)/python -m service lint questionnaires

test: lint  ## lint, then the whole suite
	$(BIN)/pytest

examples: $(STAMP)  ## rewrite questionnaires/examples/ (the README tour's files) from the vectors
	$(BIN)/python -m service examples questionnaires/examples

bench: $(STAMP)  ## benchmarks; writes BENCHMARKS.md
	$(BIN)/python -m benchmarks

fuzz: $(STAMP)  ## the long fuzz campaign (FHIRPath engines, regex translation, validator); see FUZZING.md
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(BIN)/pytest tests/fuzz -q -s -p no:cacheprovider

crosscheck:  ## every shipped score expression on every vector in fhirpath.js (needs node, npm)
	npm ci --prefix tools/fhirpathjs --no-audit --no-fund --silent
	node tools/fhirpathjs/check.js

# The runtime is offline (hospital networks are closed), so these are committed; re-run this
# after changing a pinned version in tools/portal-assets/package.json (then `npm install
# --package-lock-only` there). Files are copied as published, licence headers and files kept.
SWAGGER_UI := tools/portal-assets/node_modules/swagger-ui-dist
AXE        := tools/portal-assets/node_modules/axe-core
portal-assets:  ## vendor Swagger UI (portal /docs) and axe-core (tests/portal) from npm, as locked
	npm ci --prefix tools/portal-assets --no-audit --no-fund --silent
	mkdir -p service/portal/static/swagger-ui tests/portal/vendor
	cp $(addprefix $(SWAGGER_UI)/,LICENSE NOTICE swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css) service/portal/static/swagger-ui/
	cp $(AXE)/axe.min.js $(AXE)/LICENSE tests/portal/vendor/

renderers: $(STAMP)  ## every instrument in LHC-Forms and Smart Forms (headless chromium); writes docs/renderers.md
	npm ci --prefix tools/renderers --no-audit --no-fund --silent
	node tools/renderers/run.js

lock: $(STAMP)  ## resolve pyproject.toml's dependencies into requirements.lock, with hashes
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe \
	    --generate-hashes --no-emit-index-url --no-emit-find-links \
	    --output-file requirements.lock pyproject.toml

base-image:  ## the digest python:3.11-slim names today (the Dockerfile pins one; needs docker)
	docker buildx imagetools inspect python:3.11-slim --format '{{json .Manifest.Digest}}'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
