# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# mosquitto-iothub
#
#   make            build/mosquitto_iothub.so and build/iothubctl
#   make test       install missing Debian packages, build, run unit + integration tests
#   make unit       Check unit tests only
#   make asan       the whole suite with an ASan/UBSan build of the plugin
#   make run        broker + plugin + services + a demo device (tools/run.sh);
#                   CLUSTER=3: three nodes behind HAProxy
#   make bench      benchmark report (bench/run.sh)
#   make fuzz       libFuzzer targets for a bounded time (clang; FUZZ_SECONDS per target)
#   make check-layers  every #include points down the folders (tools/check_layers.py)
#   make soak       mixed-workload soak (SOAK_MINUTES, default 5)
#   make install    install the plugin and iothubctl under $(PREFIX)

PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib/mosquitto-iothub
BINDIR   ?= $(PREFIX)/bin
BUILD    ?= build
CC       ?= cc
PYTHON   ?= /usr/bin/python3
CLUSTER  ?= 1
PKGS      = libmongoc-1.0 librabbitmq openssl libmicrohttpd

# Lazily evaluated: `make test` installs the packages before anything needs them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

OPT      ?= -O2
SAN      ?=
WARN      = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_ALL = -std=gnu11 $(OPT) -g -fPIC $(WARN) $(SAN) -I. $(PKG_CFLAGS) -D_GNU_SOURCE $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)

# The plugin's folders, bottom of the data flow first (docs/ARCHITECTURE.md).
MODULES    = core registry auth acl autosub events api cluster plugin
PLUGIN_SRC = $(wildcard $(MODULES:%=%/*.c))
PLUGIN_OBJ = $(PLUGIN_SRC:%.c=$(BUILD)/obj/%.o)
# Everything except the entry points: what unit tests and tools link against.
LIB_OBJ    = $(filter-out $(BUILD)/obj/plugin/plugin.o,$(PLUGIN_OBJ))

CTL_SRC    = $(wildcard tools/ctl/*.c)
CTL_OBJ    = $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
# iothubctl shares name validation, secret handling and the option table
# (plugin_opt_* parsing for --config), the ACL list names and the JWT signature (token) with the plugin;
# tools/ctl/broker_shim.c backs the broker functions config.o calls with libc.
CTL_SHARED = $(BUILD)/obj/registry/username.o $(BUILD)/obj/auth/secret.o $(BUILD)/obj/core/config.o \
             $(BUILD)/obj/core/acl_lists.o $(BUILD)/obj/auth/jwt_sig.o

STUB_OBJ   = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard test/stubs/*.c))
UNIT_SRC   = $(wildcard test/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)

.SECONDARY:

.PHONY: all plugin ctl loadgen test unit integration asan asan-build run bench fuzz soak install clean deps check-layers

all: plugin ctl

plugin: $(BUILD)/mosquitto_iothub.so

$(BUILD)/mosquitto_iothub.so: $(PLUGIN_OBJ) plugin/exports.map
	$(CC) -shared -o $@ $(PLUGIN_OBJ) -Wl,--version-script=plugin/exports.map $(LDFLAGS_ALL) $(PKG_LIBS) -lpthread

ctl: $(if $(CTL_SRC),$(BUILD)/iothubctl,)

$(BUILD)/iothubctl: $(CTL_OBJ) $(CTL_SHARED)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(shell pkg-config --libs libcurl) -lmosquitto -lpthread

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(BUILD)/test/%: test/unit/%.c $(LIB_OBJ) $(STUB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -o $@ $< $(LIB_OBJ) $(STUB_OBJ) $(LDFLAGS_ALL) $(PKG_LIBS) $(shell pkg-config --libs check) -lmosquitto -lpthread

deps:
	tools/deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# The load generator drives the events tests' 5,000-publish runs.
loadgen:
	$(MAKE) -C bench

integration: all loadgen
	$(PYTHON) -m pytest test/integration -q $(PYTEST_ARGS)

check-layers:
	$(PYTHON) tools/check_layers.py

# Seconds each fuzz target runs in `make test`, on top of the corpus replay
# fuzz.sh does after it: new code meets the mutator in CI, not only the
# committed inputs (9 targets x 12 s, under 2 minutes).
FUZZ_CI_SECONDS ?= 12

# The README's test command: everything a fresh machine needs, then every suite.
test: deps check-layers
	$(MAKE) all
	$(MAKE) unit
	FUZZ_SECONDS=$(FUZZ_CI_SECONDS) tools/fuzz.sh
	$(MAKE) integration

# The same suites against an ASan/UBSan build. The broker itself is not
# instrumented, so the harness preloads the sanitizer runtimes into it
# (IOTHUB_ASAN) and fails a test whose broker left a report; iothubctl and
# the events test driver are built instrumented. The demo test runs
# tools/run.sh as a user would, on the regular build, so that is built too.
ASAN_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: deps
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="$(ASAN_SAN)" all unit
	$(MAKE) all loadgen
	IOTHUB_PLUGIN=$(CURDIR)/build-asan/mosquitto_iothub.so IOTHUBCTL=$(CURDIR)/build-asan/iothubctl \
		IOTHUB_ASAN=1 IOTHUB_ASAN_CFLAGS="$(ASAN_SAN)" \
		$(PYTHON) -m pytest test/integration -q $(PYTEST_ARGS)

run: deps
	$(MAKE) all
	CLUSTER=$(CLUSTER) tools/run.sh

bench: deps
	$(MAKE) all
	bench/run.sh

fuzz: deps
	tools/fuzz.sh

soak: deps
	$(MAKE) all
	$(PYTHON) -m pytest test/soak -q -s $(PYTEST_ARGS)

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 0644 $(BUILD)/mosquitto_iothub.so $(DESTDIR)$(LIBDIR)/mosquitto_iothub.so
	if [ -f $(BUILD)/iothubctl ]; then install -m 0755 $(BUILD)/iothubctl $(DESTDIR)$(BINDIR)/iothubctl; fi

clean:
	rm -rf build build-asan

-include $(PLUGIN_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(STUB_OBJ:.o=.d)
