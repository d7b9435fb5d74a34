#!/usr/bin/env bash
# run-all.sh — the README's test command and what CI runs: installs what is missing,
# builds, and runs every suite (GoogleTest unit tests, also under ASan/UBSan; pg_regress;
# the local D1 server's own tests; end-to-end integration against the local D1 server).
# Ends with one line "N passed, N failed" over all suites; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source test/lib/common.sh
trap cleanup_all EXIT
WORK=$(mktemp -d /tmp/pg2d1-test.XXXXXX)
chmod 755 "$WORK"
TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
add() { # suite passed failed
  TOTAL_PASSED=$((TOTAL_PASSED + $2)); TOTAL_FAILED=$((TOTAL_FAILED + $3))
  SUMMARY+=("$(printf '%-22s %5d passed, %d failed' "$1" "$2" "$3")")
}
section() { echo; echo "=== $* ==="; }

section "dependencies"
scripts/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

ctest_counts() { # log → "passed failed"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n1)
  if [ -z "$line" ]; then echo "0 1"; return; fi
  local failed total
  failed=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
  echo "$((total - failed)) $failed"
}

unit() { # name builddir cmake-args…
  local name=$1 dir=$2; shift 2
  section "$name"
  if cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$WORK/$name.cmake.log" 2>&1 &&
     cmake --build "$dir" -j"$(nproc)" >"$WORK/$name.build.log" 2>&1; then
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" 2>&1 | tee "$WORK/$name.log" | tail -n 5
    add "$name" $(ctest_counts "$WORK/$name.log")
  else
    cat "$WORK/$name.cmake.log" "$WORK/$name.build.log" 2>/dev/null | tail -n 40
    add "$name" 0 1
  fi
}
unit "unit (GoogleTest)" build
unit "unit (ASan+UBSan)" build-asan -DPG2D1_SANITIZE=ON

section "extension build + install"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if make -j"$(nproc)" >"$WORK/make.log" 2>&1 && $SUDO make install >>"$WORK/make.log" 2>&1; then
  warnings=$(grep -c 'warning:' "$WORK/make.log" || true)
  echo "built and installed pg2d1 ($warnings compiler warnings)"
  if [ "$warnings" -eq 0 ]; then add "build (no warnings)" 1 0; else grep 'warning:' "$WORK/make.log" | head; add "build (no warnings)" 0 1; fi
  # The library the tests load is the one just built (and exports no jansson symbol).
  if $SUDO make check-installed-so 2>&1 | tail -n 2; then add "installed .so" 1 0; else add "installed .so" 0 1; fi
  BUILD_OK=1
else
  tail -n 40 "$WORK/make.log"; add "build" 0 1; BUILD_OK=0
fi

if [ "$BUILD_OK" = 1 ]; then
  section "PostgreSQL cluster"
  start_pg_with_workers "$WORK/pg" pg2d1_wt && echo "throwaway cluster at $PGHOST port $PGPORT (pg2d1 and pg_cron preloaded)"

  section "pg_regress"
  make installcheck >"$WORK/regress.log" 2>&1
  cat "$WORK/regress.log" | grep -E '^(ok|not ok|test | *[a-z_]+ +\.\.\.)|tests? (passed|failed)' || tail -n 20 "$WORK/regress.log"
  if grep -qE 'All [0-9]+ tests passed' "$WORK/regress.log"; then
    n=$(grep -oE 'All [0-9]+ tests passed' "$WORK/regress.log" | grep -oE '[0-9]+'); add "pg_regress" "$n" 0
  elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log"; then
    f=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log" | head -n1)
    nf=${f%% of*}; nt=$(sed -E 's/[0-9]+ of ([0-9]+).*/\1/' <<<"$f")
    add "pg_regress" $((nt - nf)) "$nf"; [ -f regression.diffs ] && head -n 80 regression.diffs
  else
    add "pg_regress" 0 1
  fi

  suite() { # name script label
    section "$1"
    WORK="$WORK/$3" bash "$2" 2>&1 | tee "$WORK/$3.log"
    local line
    line=$(grep -E "^$3: [0-9]+ passed, [0-9]+ failed" "$WORK/$3.log" | tail -n1)
    if [ -n "$line" ]; then
      add "$1" "$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")" "$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")"
    else
      add "$1" 0 1
    fi
  }
  suite "integration" test/integration/test_migrate.sh integration
  suite "types and keys" test/integration/test_types.sh types
  suite "workers" test/integration/test_workers.sh workers
  suite "security" test/integration/test_security.sh security
  suite "completeness" test/integration/test_complete.sh complete
  suite "sync" test/integration/test_sync.sh sync
  suite "import" test/integration/test_import.sh import
  suite "upgrade 0.1.0 → 0.4.0" test/integration/test_upgrade.sh upgrade
  suite "Debian package" test/integration/test_package.sh package
fi

section "local D1 server"
(cd test && node --test d1-server/test/ 2>&1) | tee "$WORK/d1-server.log" | grep -E '^(not ok|# (pass|fail))' || true
p=$(grep -E '^# pass [0-9]+' "$WORK/d1-server.log" | grep -oE '[0-9]+' | tail -n1)
f=$(grep -E '^# fail [0-9]+' "$WORK/d1-server.log" | grep -oE '[0-9]+' | tail -n1)
if [ -n "$p" ] && [ -n "$f" ]; then add "local D1 server" "$p" "$f"; else add "local D1 server" 0 1; fi

section "summary"
printf '%s\n' "${SUMMARY[@]}"
echo "took $SECONDS s"
if [ "$TOTAL_FAILED" -eq 0 ] && [ -z "${PG2D1_KEEP_LOGS:-}" ]; then
  cleanup_all; rm -rf "$WORK"; echo "logs removed (all passed; PG2D1_KEEP_LOGS=1 keeps them)"
else
  echo "logs: $WORK"
fi
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
