# Two entry points, both working on a fresh machine with Python 3.11+:
#   make generate   install, then generate + cfn-lint every environment and run checkov on output/
#   make test       install (with the test tools), then run the whole test suite
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov

.PHONY: generate test install clean

generate: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(VENV)/bin/python generate.py
	$(CHECKOV_VENV)/bin/checkov -d output --framework cloudformation --skip-download --compact --quiet

test: $(VENV)/.installed-dev $(CHECKOV_VENV)/.installed
	$(VENV)/bin/python -m pytest

install: $(VENV)/.installed-dev $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# checkov pins an old boto3: it gets its own environment, away from the project's boto3.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt -c constraints-checkov.txt
	touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV)
