# The two commands of the README:
#   make run    set everything up (.venv), build the demo assets, open the app
#   make test   (re)use .venv and run the whole test suite
.PHONY: run test lint setup system-deps demo bench clean-venv

# One thread per torch process: on 2 cores a second thread beside other work is 10-20x slower.
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

run: setup
	.venv/bin/workbench demo build
	.venv/bin/workbench

test: setup system-deps
	.venv/bin/python -m pytest

setup:
	@./scripts/setup.sh

# ruff format --check, ruff check, mypy, import contracts (scripts/lint.sh FILES... for a few files)
lint: setup
	@./scripts/lint.sh

# Toolchains the executor tests need (Go, testify, boost, OpenSSL, Rust crates, bubblewrap,
# js-md5). Installs what is missing when run as root with apt-get; otherwise lists it.
system-deps:
	@./scripts/system-deps.sh

demo: setup
	.venv/bin/workbench demo build

clean-venv:
	rm -rf .venv
