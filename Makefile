# pg2d1 — PGXS build of the extension (C++17). `make && make install`, then
# `make installcheck` runs the pg_regress tests in test/sql/ against a running server.
EXTENSION = pg2d1
MODULE_big = pg2d1
DATA = $(wildcard sql/pg2d1--*.sql)
PGFILEDESC = "pg2d1 - copy PostgreSQL tables into Cloudflare D1"

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = setup boundary credentials privileges ddl
REGRESS_OPTS = --inputdir=test --load-extension=pg2d1

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -fPIC -Isrc -MMD -MP
# jansson is linked statically and bound inside pg2d1.so (-Bsymbolic, --exclude-libs):
# linked dynamically, its json_object() and friends resolve to the postgres executable's
# SQL functions of the same names. Debian's libjansson.a is built without -fPIC; its only
# references to outside data (stdin, malloc, free taken by address) are renamed to local
# definitions in src/pg/jansson_link.cpp so it links into a shared object.
JANSSON_A = $(shell pkg-config --variable=libdir jansson)/libjansson.a
EXTRA_CLEAN = libjansson_pg2d1.a $(OBJS:.o=.d)
SHLIB_LINK = libjansson_pg2d1.a $(shell pkg-config --libs libcurl) -lstdc++ -pthread -Wl,-Bsymbolic \
	-Wl,--exclude-libs,libjansson_pg2d1.a

# No LLVM bitcode for JIT inlining: our C++ is never worth inlining into plans, and it
# keeps the build independent of the clang version PostgreSQL was built with.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers as system headers, so their warnings don't drown ours.
override CPPFLAGS := $(patsubst -I%,-isystem %,$(filter -I$(includedir)%,$(CPPFLAGS))) \
	$(filter-out -I$(includedir)%,$(CPPFLAGS))

libjansson_pg2d1.a: $(JANSSON_A)
	objcopy --redefine-sym stdin=pg2d1_jansson_stdin --redefine-sym malloc=pg2d1_jansson_malloc \
		--redefine-sym free=pg2d1_jansson_free $< $@
$(shlib): libjansson_pg2d1.a

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
