# pg2d1 — PGXS build of the extension (C++17). `make && make install`, then
# `make installcheck` runs the pg_regress tests in test/sql/ against a running server.
EXTENSION = pg2d1
MODULE_big = pg2d1
DATA = $(wildcard sql/pg2d1--*.sql)
PGFILEDESC = "pg2d1 - copy PostgreSQL tables into Cloudflare D1"

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = setup boundary credentials privileges ddl sync
REGRESS_OPTS = --inputdir=test --load-extension=pg2d1

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -fPIC -Isrc -MMD -MP
# jansson is linked statically and bound inside pg2d1.so: linked dynamically, its
# json_object() and friends resolve to the postgres executable's SQL functions of the same
# names. scripts/build-jansson.sh builds it from Debian's jansson source package (fetched
# once from deb.debian.org, cached in build/jansson/) as PIC with -fvisibility=hidden, so
# its symbols are local to pg2d1.so (-Bsymbolic and --exclude-libs kept as a second guard).
# Its headers come first (-I, ahead of the system's jansson.h if libjansson-dev is installed).
JANSSON_DIR := $(shell scripts/build-jansson.sh --print-dir)
JANSSON_LIB = $(JANSSON_DIR)/lib/libjansson_pic.a
PG_CXXFLAGS += -I$(JANSSON_DIR)/include
EXTRA_CLEAN = $(OBJS:.o=.d)
SHLIB_LINK = $(JANSSON_LIB) $(shell pkg-config --libs libcurl) -lstdc++ -pthread -Wl,-Bsymbolic \
	-Wl,--exclude-libs,libjansson_pic.a

# No LLVM bitcode for JIT inlining: our C++ is never worth inlining into plans, and it
# keeps the build independent of the clang version PostgreSQL was built with.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers as system headers, so their warnings don't drown ours.
override CPPFLAGS := $(patsubst -I%,-isystem %,$(filter -I$(includedir)%,$(CPPFLAGS))) \
	$(filter-out -I$(includedir)%,$(CPPFLAGS))

# Built before any object is compiled (they include its jansson.h). The version is in the
# path; the script itself skips a finished build of the same version and flags.
$(JANSSON_LIB):
	scripts/build-jansson.sh
$(OBJS): | $(JANSSON_LIB)
$(shlib): $(JANSSON_LIB)

# Header dependencies (-MMD): a changed header rebuilds every object that includes it.
-include $(OBJS:.o=.d)

# dist — the PGXN release: `make dist` writes pg2d1-$(EXTVERSION).zip, every committed file of
# HEAD under one top folder pg2d1-$(EXTVERSION)/ with META.json in it, as PGXN expects
# (upload it, or `pgxn install ./pg2d1-$(EXTVERSION).zip`). The version is pg2d1.control's
# default_version; META.json must agree (checked by test/integration/check_meta.py).
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" pg2d1.control)
.PHONY: dist
dist:
	python3 test/integration/check_meta.py META.json
	@test -z "$$(git status --porcelain)" || echo "dist: warning: uncommitted changes and untracked files are not in the archive (git archive HEAD)"
	git archive --format zip --prefix=pg2d1-$(EXTVERSION)/ -o pg2d1-$(EXTVERSION).zip HEAD
	@echo "dist: pg2d1-$(EXTVERSION).zip"

# check-installed-so — the shipped pg2d1.so is the binary the tests exercise: the installed
# $(pkglibdir)/pg2d1.so must be byte-identical to ./pg2d1.so, and neither may export a json_*
# symbol (jansson is hidden inside) nor need libjansson. Run after `make install`.
.PHONY: check-installed-so
check-installed-so:
	@set -e; inst='$(DESTDIR)$(pkglibdir)/pg2d1.so'; \
	test -f $(shlib) || { echo "check-installed-so: ./$(shlib) is not built"; exit 1; }; \
	test -f "$$inst" || { echo "check-installed-so: $$inst is not installed"; exit 1; }; \
	a=$$(sha256sum < $(shlib) | cut -d' ' -f1); b=$$(sha256sum < "$$inst" | cut -d' ' -f1); \
	echo "check-installed-so: ./$(shlib) sha256 $$a"; echo "check-installed-so: $$inst sha256 $$b"; \
	test "$$a" = "$$b" || { echo "check-installed-so: FAIL: the installed pg2d1.so is not the one built here"; exit 1; }; \
	for f in $(shlib) "$$inst"; do \
	  if nm -D --defined-only "$$f" | grep -E ' (json_|jsonp_|hashtable_|strbuffer_|utf8_)'; then \
	    echo "check-installed-so: FAIL: $$f exports jansson symbols (above)"; exit 1; fi; \
	  if readelf -d "$$f" | grep -E 'NEEDED.*libjansson'; then \
	    echo "check-installed-so: FAIL: $$f needs libjansson"; exit 1; fi; \
	done; \
	echo "check-installed-so: OK (identical, no jansson symbols exported, no libjansson NEEDED)"
