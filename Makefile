.PHONY: setup serve test

setup:
	scripts/bootstrap.sh

serve: setup
	.venv/bin/triage serve

test:
	scripts/test.sh
