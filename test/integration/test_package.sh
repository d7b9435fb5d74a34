#!/usr/bin/env bash
# test_package.sh — the Debian package and the PGXN release, end to end, as a DBA gets them:
# builds postgresql-15-pg2d1 with dpkg-buildpackage from a temporary copy of the repository
# (the working tree's tracked and untracked files, not what is ignored), checks its files and
# Depends, installs it with dpkg -i, starts a throwaway cluster with the packaged library
# preloaded, runs CREATE EXTENSION and migrates a 5,000-row table into the local D1 server,
# compares D1's SQLite file with PostgreSQL, removes the package with apt-get and checks that
# none of its files is left. Also validates META.json and `make dist`'s zip.
#
# It installs into the system PostgreSQL directories (a CI machine's, as root or with sudo):
# the pg2d1 files already there (put there by the test suite's `make install`) are saved
# first and put back at the end, whatever happens in between. A machine where the package
# postgresql-15-pg2d1 is already installed is left alone (one failing check).
# Prints "package: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d /tmp/pg2d1-package.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKG=postgresql-15-pg2d1
PGLIB=/usr/lib/postgresql/15/lib
PGEXT=/usr/share/postgresql/15/extension
T0=$SECONDS

# --- the system files this test replaces, saved before anything else ---------------------
SAVED="$WORK/saved"
mkdir -p "$SAVED"
SAVED_LIST=()
for f in "$PGLIB/pg2d1.so" "$PGEXT"/pg2d1.control "$PGEXT"/pg2d1--*.sql; do
  [ -e "$f" ] || continue
  cp -a "$f" "$SAVED/" && SAVED_LIST+=("$f")
done
PKG_WAS_INSTALLED=0
dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed" && PKG_WAS_INSTALLED=1

restore_system() { # remove the package if this test left it installed, put the saved files back
  [ "$PKG_WAS_INSTALLED" = 1 ] && return 0
  if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed"; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y -qq "$PKG" >/dev/null 2>&1 || $SUDO dpkg -r "$PKG" >/dev/null 2>&1
  fi
  local f
  for f in "${SAVED_LIST[@]}"; do # copy, then rename over: a running server may have the old .so mapped
    [ -e "$SAVED/$(basename "$f")" ] && $SUDO cp -a "$SAVED/$(basename "$f")" "$f.pg2d1-restore.$$" &&
      $SUDO mv -f "$f.pg2d1-restore.$$" "$f"
  done
  SAVED_LIST=()
}
trap 'cleanup_all; restore_system' EXIT

echo "       saved ${#SAVED_LIST[@]} installed pg2d1 file(s) to $SAVED"
if [ "$PKG_WAS_INSTALLED" = 1 ]; then
  check "$PKG is not installed before the test (it is: not touching this machine)" false
  report_checks package; exit 1
fi

# --- tools -------------------------------------------------------------------------------
need_tools() { command -v dpkg-buildpackage && command -v dh && command -v pg_buildext && command -v readelf; }
if ! need_tools >/dev/null 2>&1; then
  echo "       installing the packaging tools (dpkg-dev debhelper postgresql-server-dev-all binutils)"
  $SUDO apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    dpkg-dev debhelper postgresql-server-dev-all binutils >"$WORK/apt.log" 2>&1
fi
if ! need_tools >/dev/null 2>&1; then
  check "packaging tools present (dpkg-buildpackage, dh, pg_buildext, readelf): missing after apt-get install, see $WORK/apt.log" false
  report_checks package; exit 1
fi

# --- a copy of the source tree ------------------------------------------------------------
VERSION=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$REPO_ROOT/pg2d1.control")
SRC="$WORK/src/pg2d1-$VERSION"
mkdir -p "$SRC"
copy_tree() { # DEST — the working tree's tracked and untracked, not ignored, files
  if git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$REPO_ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$1"
  else
    tar -C "$REPO_ROOT" --exclude=.git --exclude=node_modules --exclude='./build*' --exclude='*.o' \
      --exclude='*.so' --exclude='*.d' --exclude=libjansson_pg2d1.a -cf - . | tar -xf - -C "$1"
  fi
}
copy_tree "$SRC"
check "source copy has debian/ and META.json" test -f "$SRC/debian/control" -a -f "$SRC/debian/rules" -a -f "$SRC/META.json"

# --- PGXN: META.json and make dist ----------------------------------------------------------
check "META.json is valid (PGXN Meta Spec 1.0.0, test/integration/check_meta.py)" \
  python3 "$SRC/test/integration/check_meta.py" "$SRC/META.json"
DIST="$WORK/dist"
mkdir -p "$DIST" && copy_tree "$DIST"
(cd "$DIST" && git init -q && git add -A && git -c user.name=test -c user.email=test@localhost commit -qm dist) >/dev/null 2>&1
check "make dist writes pg2d1-$VERSION.zip" make -C "$DIST" -s dist
check_eq "the zip holds one top folder pg2d1-$VERSION/ with META.json, Makefile, pg2d1.control in it" \
  "pg2d1-$VERSION/|3" python3 - "$DIST/pg2d1-$VERSION.zip" "$VERSION" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = sorted({n.split("/", 1)[0] + "/" for n in names})
top = f"pg2d1-{sys.argv[2]}/"
print("".join(tops) + "|" + str(sum(top + f in names for f in ("META.json", "Makefile", "pg2d1.control"))))
PY

# --- build the package ----------------------------------------------------------------------
t=$SECONDS
# nocheck: the build's own pg_regress run (debian/rules, pg_virtualenv) is skipped here for
# time; the suite runs pg_regress itself (make installcheck).
check "dpkg-buildpackage -us -uc -b builds the package (log: $WORK/build.log)" \
  bash -c "cd '$SRC' && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -j$(nproc) >'$WORK/build.log' 2>&1 || { tail -n 30 '$WORK/build.log'; exit 1; }"
echo "       built in $((SECONDS - t)) s"
DEB=""
for f in "$WORK/src/${PKG}_${VERSION}"-*_*.deb; do [ -e "$f" ] && DEB=$f; done
if [ -z "$DEB" ]; then
  check "the .deb exists" false
  report_checks package; exit 1
fi
echo "       $(basename "$DEB"): $(stat -c %s "$DEB") bytes"

# --- its files and dependencies -------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/contents"
has() { grep -qx "$1" "$WORK/contents" || { echo "not in the package: $1"; return 1; }; }
check "the package ships $PGLIB/pg2d1.so" has "$PGLIB/pg2d1.so"
check "the package ships $PGEXT/pg2d1.control" has "$PGEXT/pg2d1.control"
for f in "$SRC"/sql/pg2d1--*.sql; do
  check "the package ships $PGEXT/$(basename "$f")" has "$PGEXT/$(basename "$f")"
done
check "the package ships copyright and README.Debian" \
  bash -c "grep -qx /usr/share/doc/$PKG/copyright '$WORK/contents' && grep -qx '/usr/share/doc/$PKG/README.Debian.*' '$WORK/contents'"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
echo "       Depends: $DEPENDS"
check "Depends: postgresql-15" grep -qE '(^|, )postgresql-15( |,|$)' <<<"$DEPENDS"
check "Depends: libcurl4 (the library pg2d1.so links)" grep -qE '(^|, )libcurl4( |,|$)' <<<"$DEPENDS"
check "no dependency on libjansson4 (jansson is linked statically)" bash -c "! grep -q jansson <<<\"\$1\"" _ "$DEPENDS"
check_eq "Static-Built-Using names jansson" "jansson" bash -c "dpkg-deb -f '$DEB' Static-Built-Using | cut -d' ' -f1"
mkdir -p "$WORK/deb" && dpkg-deb -x "$DEB" "$WORK/deb"
SO="$WORK/deb$PGLIB/pg2d1.so"
check "pg2d1.so NEEDs libcurl.so.4 and no libjansson" \
  bash -c "readelf -d '$SO' | grep -q 'NEEDED.*libcurl.so.4' && ! readelf -d '$SO' | grep -q 'NEEDED.*jansson'"
check "jansson's json_object stays inside pg2d1.so (not exported, not imported)" \
  bash -c "! nm -D '$SO' | grep -qw json_object"

# --- install it ---------------------------------------------------------------------------
check "dpkg -i installs the package" bash -c "$SUDO dpkg -i '$DEB' >'$WORK/dpkg.log' 2>&1 || { cat '$WORK/dpkg.log'; exit 1; }"
check "dpkg --verify: the installed files are the package's" bash -c "out=\$(dpkg --verify $PKG 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
dpkg -L "$PKG" 2>/dev/null | while read -r p; do [ -d "$p" ] || echo "$p"; done >"$WORK/files"
echo "       $(wc -l <"$WORK/files") files installed by $PKG"

# --- use it: a cluster with the packaged library preloaded, a migration into D1 -------------
start_pg "$WORK/pg" "shared_preload_libraries = 'pg2d1'" || { check "cluster starts with the packaged pg2d1 preloaded" false; report_checks package; exit 1; }
start_d1 "$WORK/d1" || { check "local D1 server starts" false; report_checks package; exit 1; }
q() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
check_eq "the packaged library is preloaded" "pg2d1" q "SHOW shared_preload_libraries"
check "CREATE EXTENSION pg2d1 from the packaged files" q "CREATE EXTENSION pg2d1"
check_eq "extension version $VERSION (pg2d1.control's default_version)" "$VERSION" \
  q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'"
check "the launcher runs (pg2d1 launcher in pg_stat_activity)" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'postgres'" 1 30
pgsql -v rows=5000 -v cameras=100 -f "$REPO_ROOT/bench/generate.sql" >/dev/null 2>&1
setup_pg2d1_server >/dev/null 2>&1
check_eq "5,000 rows to migrate" "5000" q "SELECT count(*) FROM coordinate_speed_new"
check "pg2d1_migrate(coordinate_speed_new, wait => true)" \
  q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 2000, wait => true)"
check "D1 equals PostgreSQL (compare.py: count + md5 of every value)" \
  python3 "$REPO_ROOT/test/integration/compare.py" coordinate_speed_new "$D1_SQLITE"
check_eq "job completed, 5,000 rows" "completed|5000" \
  q "SELECT status, rows_done FROM pg2d1_progress WHERE table_name = 'coordinate_speed_new'"
check_eq "3 checkpoints completed in D1" "3|3" \
  d1_sqlite "SELECT count(*), sum(status='completed') FROM migration_checkpoints WHERE table_name='coordinate_speed_new'"
cleanup_all   # stops the cluster and the D1 server before the package goes

# --- remove it -----------------------------------------------------------------------------
check "apt-get remove -y $PKG" bash -c "DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y $PKG >'$WORK/remove.log' 2>&1 || { cat '$WORK/remove.log'; exit 1; }"
check "the package is no longer installed" bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q 'ok installed'"
files_left() { local p n=0; while read -r p; do [ -e "$p" ] && { echo "left: $p"; n=$((n + 1)); }; done <"$WORK/files"; [ "$n" -eq 0 ]; }
check "no file of the package is left ($(wc -l <"$WORK/files") files checked)" files_left

# --- put back what was there -----------------------------------------------------------------
n_saved=${#SAVED_LIST[@]}
restored=("${SAVED_LIST[@]}")
restore_system
ok=1
for f in "${restored[@]}"; do cmp -s "$f" "$SAVED/$(basename "$f")" || { echo "       not restored: $f"; ok=0; }; done
check "the $n_saved pg2d1 file(s) installed before the test are back, byte for byte" test "$ok" = 1

echo "       took $((SECONDS - T0)) s"
report_checks package
[ "$CHECKS_FAILED" -eq 0 ]
