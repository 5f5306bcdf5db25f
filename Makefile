# lowmem.vps — the two commands users need, plus the stages of `make test` one by one.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help demo report test setup lint sanity unit molecule-default molecule-vm lab-start lab-stop lab-ssh images clean bench-mutation bench-storm bench-footprint bench-fleet

help:
	@echo "make demo   build and boot the 512 MB lab VM, run playbooks/harden.yml on it, show what changed"
	@echo "make report boot (or reuse) the lab VM, run playbooks/audit.yml on it, write lowmem-audit/report.{json,md,html}"
	@echo "make test   ansible-lint, ansible-test sanity, unit tests, Molecule default (containers) and vm"
	@echo "stages:     make setup | lint | sanity | unit | molecule-default | molecule-vm"
	@echo "lab:        make lab-start | lab-ssh | lab-stop    images: make images    clean: make clean"
	@echo "bench:      make bench-storm [ROUNDS=3] [DURATION=300]   stock vs hardened 512 MB VM under the same memory storm"
	@echo "            make bench-footprint   peak RSS of every module on the 512 MB VM, converge and rerun"
	@echo "            make bench-fleet [SIZES='1 10 20']   harden.yml on N Debian 13 containers: wall time, rerun changes"
	@echo "            make bench-mutation [ARGS='sizes.py grub.py'] [CAP=seconds]   (neither is part of make test)"

demo:
	tools/demo

report:
	tools/report

test:
	tools/test

setup lint sanity unit molecule-default molecule-vm:
	tools/test $@

lab-start: setup
	tools/labvm-image build && tools/labvm start

lab-ssh:
	tools/labvm ssh

lab-stop:
	tools/labvm stop --all

images:
	tools/build-test-images all

# Mutation score of plugins/module_utils against tests/unit (mutmut in .build/bench-venv); not part of `make test`.
CAP ?= 1800
bench-mutation:
	tools/dev-link
	bench/mutation --cap $(CAP) $(ARGS)

# The same memory storm on a stock and a hardened lab VM (and each with min_ttl_ms): table, PNGs, raw JSON.
ROUNDS ?= 3
DURATION ?= 300
bench-storm: setup
	tools/dev-link
	.venv/bin/python bench/storm --rounds $(ROUNDS) --duration $(DURATION)

# What the collection costs a 512 MB box: peak RSS per module, lowest MemAvailable during converge and rerun.
bench-footprint: setup
	tools/dev-link
	.venv/bin/python bench/footprint

# harden.yml on 1, 10, 20 Debian 13 systemd containers: wall time, per-host time, changed on the rerun.
SIZES ?= 1 10 20
bench-fleet: setup
	tools/dev-link
	.venv/bin/python bench/fleet --sizes "$(SIZES)"

clean:
	-tools/labvm stop --all
	-tools/test-engine stop
	rm -rf .build .ansible tests/output
