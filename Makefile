# Two commands on a fresh machine: `make run` (the whole pipeline locally, to a serving prod API)
# and `make test`. Both build .venv from the pinned requirements on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast check-templates bench docs lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The README's AWS sequence against the local AWS: the connection, create-stack (or update-stack)
# of CodePipeline/pipeline.yaml, a push of the current commit to the pipeline's local Git remote,
# and the execution it starts, followed to the end; the approval is given at once
# (PutApprovalResult) so that it finishes unattended (README: the four doors, locally).
run: $(STAMP)
	$(BIN)/sagepipe run --auto-approve
	@echo "== the prod endpoint, through the local SageMaker Runtime:"
	$(BIN)/sagepipe invoke sagepipe-prod --content-type text/csv --body '1,female,29'
	@echo "== the prod API (Chalice, IAM auth), with curl on 127.0.0.1:"
	eval "$$($(BIN)/sagepipe env)" && \
	curl -sS --fail-with-body --aws-sigv4 "aws:amz:$$AWS_REGION:execute-api" \
	  --user "$$AWS_ACCESS_KEY_ID:$$AWS_SECRET_ACCESS_KEY" \
	  -H 'Content-Type: application/json' \
	  -d '{"records": [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male", "Age": null}]}' \
	  "$$($(BIN)/sagepipe api url 2>/dev/null)predict"
	@echo

# The whole suite on four workers (pytest-xdist), each with its own local AWS; the root conftest
# keeps the tests that share a session fixture (a trained model, a folder's own local AWS) on one
# worker, so it is built once per run (tests/conftest.py). Four on two cores: the tests spend
# much of their time waiting for processes (jobs, builds, pipelines), and four workers keep both
# cores busy (measured with bench/suite.py: 2 workers 13.9 min, 3 10.5, 4 9.8, with 18-19 min of
# CPU, see README "Development"). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 4
PYTEST_DIST = --dist loadgroup --no-loadscope-reorder

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_DIST)

# The inner loop (under 30 s): ruff, mypy (incremental, from .mypy_cache), and the tests that
# need no local AWS nor a slow tool (`-m "not local_aws and not slow"`) in the folders where
# those are quick (not the model's training, cfn-lint, checkov, moto deployments: `make test`
# runs them).
FAST_FOLDERS = protocols stepfunctions ds_stepfunctions docs codebuild edge batch_inference \
	workflows containers
FAST_TESTS = $(addprefix tests/,$(FAST_FOLDERS))
# Two workers, one per core: these tests wait on nothing, so more only add start-up (15 s on
# two, 22 s on four).
FAST_WORKERS ?= 2
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(FAST_WORKERS) $(PYTEST_DIST) -m "not local_aws and not slow" $(FAST_TESTS)

# The template checks alone (all of them also run in `make test`); ci/checkers.sh builds the
# taskcat and checkov venvs once.
check-templates: $(STAMP)
	$(BIN)/cfn-lint
	ci/checkers.sh taskcat
	ci/checkers.sh checkov
	$(BIN)/pytest -q tests/templates tests/policy tests/aws

# Serving: the SageMaker BYO stack vs model/serve (needs wrk and nginx: apt-get install wrk nginx).
# Gateway: the model server alone vs InvokeEndpoint through the local AWS (needs wrk).
# Pipeline: commit to prod answering, with the stage breakdown and a blue/green second run.
bench: $(STAMP)
	$(BIN)/python bench/serving.py --rounds 3
	$(BIN)/python bench/gateway.py --rounds 3
	$(BIN)/python bench/pipeline.py

# The architecture picture (needs Graphviz: apt-get install graphviz) and the cost tables.
docs: $(STAMP)
	Docs/render.sh
	$(BIN)/python Docs/cost.py --write

# Re-pin every package after changing pyproject.toml or model/requirements.txt, and cut the
# CodeBuild actions' requirement sets (requirements/*.txt) from the new lock.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r model/requirements.txt -e '.[dev,bench]'
	(echo "# Every package of the project's venv, pinned (regenerate with \`make lock\`)."; \
	 echo "# Installed with --no-deps by the Makefile; the buildspecs install requirements/*.txt."; \
	 .venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e') > requirements.lock
	.venv-lock/bin/python ci/requirement_sets.py --write
	rm -rf .venv-lock

clean:
	-$(BIN)/sagepipe down
	rm -rf $(VENV) .venv-taskcat .venv-checkov .venv-sagemaker .sagepipe
