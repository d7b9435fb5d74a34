# pg2d1 — PGXS build of the extension (C++17). `make && make install`, then
# `make installcheck` runs the pg_regress tests in sql/ against a running server.
EXTENSION = pg2d1
MODULE_big = pg2d1
DATA = sql/pg2d1--0.1.0.sql
PGFILEDESC = "pg2d1 - copy PostgreSQL tables into Cloudflare D1"

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = setup boundary credentials ddl
REGRESS_OPTS = --load-extension=pg2d1

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -fPIC -Isrc
SHLIB_LINK = $(shell pkg-config --libs libcurl jansson) -lstdc++

# No LLVM bitcode for JIT inlining: our C++ is never worth inlining into plans, and it
# keeps the build independent of the clang version PostgreSQL was built with.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers as system headers, so their warnings don't drown ours.
override CPPFLAGS := $(patsubst -I%,-isystem %,$(filter -I$(includedir)%,$(CPPFLAGS))) \
	$(filter-out -I$(includedir)%,$(CPPFLAGS))
