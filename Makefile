# updater — see README.md. `make`, `make check`, `make demo`, `make install`.
CROSS_COMPILE ?=
CC := $(if $(filter default,$(origin CC)),$(CROSS_COMPILE)gcc,$(CC))
PKG_CONFIG ?= $(if $(CROSS_COMPILE),$(CROSS_COMPILE)pkg-config,pkg-config)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
DESTDIR ?=
PYTHON ?= python3

# Backends compiled in: `make WITH_OSTREE=0` builds without libostree and GLib.
WITH_DUALBANK ?= 1
WITH_OSTREE ?= 1
PKGS := libcurl libconfig libzstd libubootenv libcrypto $(if $(filter 1,$(WITH_OSTREE)),ostree-1)
BACKEND_DEFS := $(if $(filter 1,$(WITH_DUALBANK)),-DWITH_DUALBANK) $(if $(filter 1,$(WITH_OSTREE)),-DWITH_OSTREE)
TEST_PKGS := cmocka

CFLAGS ?= -O2 -g
# snprintf truncation of messages is intended: they are bounded on purpose.
WARN := -std=c11 -Wall -Wextra -Werror -Wno-format-truncation -Wno-unknown-warning-option -D_GNU_SOURCE
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))
ALL_CFLAGS = $(WARN) $(BACKEND_DEFS) $(PKG_CFLAGS) $(CFLAGS) $(CPPFLAGS)

# Everything but main.c goes into a static library the tests link against.
LIB_SRC := $(sort $(wildcard core/*.c config/*.c hooks/*.c) \
	$(if $(filter 1,$(WITH_DUALBANK)),$(wildcard backends/dualbank/*.c)) \
	$(if $(filter 1,$(WITH_OSTREE)),$(wildcard backends/ostree/*.c)))
LIB_SRC := $(filter-out core/main.c,$(LIB_SRC))
HDRS := $(wildcard core/*.h backends/*.h backends/*/*.h config/*.h hooks/*.h)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

BUILD := build
SAN_BUILD := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
SAN_OBJ := $(LIB_SRC:%.c=$(SAN_BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SAN_UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(SAN_BUILD)/tests/%)

.PHONY: all deps check unit unit-san integration demo bench install uninstall clean
all: updater

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(SAN_BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/libupdater.a: $(LIB_OBJ)
	rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

$(SAN_BUILD)/libupdater.a: $(SAN_OBJ)
	rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

updater: $(BUILD)/core/main.o $(BUILD)/libupdater.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The fault-injection build for the power-cut sweeps (core/fault.h).
FAULT_BUILD := build/fault
FAULT_OBJ := $(LIB_SRC:%.c=$(FAULT_BUILD)/%.o) $(FAULT_BUILD)/core/main.o
$(FAULT_BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DUPDATER_FAULTS -c $< -o $@

updater-fault: $(FAULT_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The sanitizer build of the program, used by the integration tests once.
updater-san: $(SAN_BUILD)/core/main.o $(SAN_BUILD)/libupdater.a
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Extra link flags of one test: test_engine swaps in a fake backend and watches each state save.
TEST_LDFLAGS_test_engine := -Wl,--wrap=backend_find -Wl,--wrap=state_save

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libupdater.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests/unit -Icore -Iconfig -Ihooks -o $@ $< $(BUILD)/libupdater.a $(PKG_LIBS) $(TEST_LIBS) $(TEST_LDFLAGS_$*)

$(SAN_BUILD)/tests/%: tests/unit/%.c $(SAN_BUILD)/libupdater.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(TEST_CFLAGS) -Itests/unit -Icore -Iconfig -Ihooks -o $@ $< $(SAN_BUILD)/libupdater.a $(PKG_LIBS) $(TEST_LIBS) $(TEST_LDFLAGS_$*)

deps:
	@./scripts/deps.sh

unit: $(UNIT_BIN) updater
	@tests/run-unit.sh $(UNIT_BIN)

unit-san: $(SAN_UNIT_BIN) updater
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run-unit.sh $(SAN_UNIT_BIN)

integration: updater
	@tests/integration/run.sh

check: deps
	@$(MAKE) --no-print-directory unit unit-san integration

demo: deps
	@$(MAKE) --no-print-directory updater
	@tests/demo.sh

bench:
	@./scripts/deps.sh bench
	@$(MAKE) --no-print-directory updater
	@python3 tests/bench/dualbank.py

install: updater
	install -D -m 0755 updater $(DESTDIR)$(BINDIR)/updater
	install -D -m 0644 config/updater.conf $(DESTDIR)$(SYSCONFDIR)/updater.conf.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/updater $(DESTDIR)$(SYSCONFDIR)/updater.conf.example

clean:
	rm -rf $(BUILD) updater updater-san updater-fault
