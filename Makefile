# The two commands: `make run` (the app on the embedded defaults) and `make test` (the whole suite).
ARGS ?=

.PHONY: run test setup setup-test bench
run: setup
	.venv/bin/python app.py $(ARGS)

test: setup-test
	.venv/bin/python -m pytest $(ARGS)

setup:
	@scripts/setup.sh app

setup-test:
	@scripts/setup.sh test
