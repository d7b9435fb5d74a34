#!/usr/bin/env bash
# build-jansson.sh — builds the jansson that pg2d1.so links statically, from Debian's source
# package: PIC, every symbol hidden, as build/jansson/<version>/lib/libjansson_pic.a with its
# headers in build/jansson/<version>/include (the Makefile runs this before compiling).
#
# Why: jansson's json_object() and friends share their names with PostgreSQL's SQL functions,
# which the postgres executable exports; a dynamically linked libjansson would resolve to
# those. Compiled with -fvisibility=hidden, jansson's functions are local to pg2d1.so and can
# neither be preempted nor exported. Debian's own libjansson.a is not PIC, so it is not used.
#
# The source (.dsc, .orig.tar.gz, .debian.tar.xz) is fetched with apt-get source from
# deb.debian.org through a private sources list and private lists directory (the system's
# apt configuration is not touched); apt checks it against the signed release files
# (debian-archive-keyring). Debian's patches (debian/patches/series) are applied in order.
# Needs network once per version; a finished build for the same version and flags is reused.
#
# Usage: scripts/build-jansson.sh [--print-version | --print-dir]
#   JANSSON_DEB_VERSION  Debian version of the jansson source package (default 2.14-2, the
#                        bookworm version; debian/rules records it in Static-Built-Using)
#   JANSSON_BUILD_ROOT   cache and build directory (default build/jansson in the source tree)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${JANSSON_DEB_VERSION:-2.14-2}
ROOT=${JANSSON_BUILD_ROOT:-$PWD/build/jansson}
SUITES="bookworm bookworm-updates"
DEST=$ROOT/$VERSION

case "${1:-}" in
  --print-version) echo "$VERSION"; exit 0 ;;
  --print-dir) echo "$DEST"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--print-version | --print-dir]" >&2; exit 2 ;;
esac

die() { echo "build-jansson: error: $*" >&2; exit 1; }

# Compiler flags: Debian's (hardening included) when dpkg-buildflags is there, then PIC and
# hidden visibility. Part of the stamp, so changed flags rebuild.
BASE_CFLAGS=$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo "-O2 -g")
BASE_CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS 2>/dev/null || true)
# dpkg-buildflags maps the current directory to "."; keep the stamp independent of it.
BASE_CFLAGS=$(sed -E 's/ ?-f(file|debug)-prefix-map=[^ ]*//g' <<<"$BASE_CFLAGS")
CFLAGS="$BASE_CFLAGS $BASE_CPPFLAGS -fPIC -fvisibility=hidden"
STAMP_TEXT="jansson $VERSION; CC=${CC:-cc}; CFLAGS=$CFLAGS"

if [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$STAMP_TEXT" ] &&
   [ -f "$DEST/lib/libjansson_pic.a" ] && [ -f "$DEST/include/jansson.h" ]; then
  exit 0 # already built for this version and these flags
fi

for tool in apt-get cmake patch sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || die "$KEYRING not found (apt-get install debian-archive-keyring)"

start=$SECONDS
echo "build-jansson: building jansson $VERSION (PIC, hidden symbols) in $DEST"

# 1. Fetch the source package (cached under $ROOT/src).
SRC=$ROOT/src
UPSTREAM=${VERSION%-*}
DSC=$SRC/jansson_$VERSION.dsc
if [ ! -f "$DSC" ] || [ ! -f "$SRC/jansson_$UPSTREAM.orig.tar.gz" ] || [ ! -f "$SRC/jansson_$VERSION.debian.tar.xz" ]; then
  APT=$ROOT/apt
  rm -rf "$APT"
  mkdir -p "$APT/parts" "$APT/lists/partial" "$SRC"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
    "$SUITES" "$KEYRING" >"$APT/parts/debian-src.sources"
  APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT/parts"
            -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o APT::Sandbox::User=root)
  mkdir -p "$APT/cache/archives/partial"
  if ! apt-get -q "${APT_OPTS[@]}" update >"$APT/update.log" 2>&1 ||
     grep -qE '^(E|W): (Failed|Some index files failed)' "$APT/update.log"; then
    cat "$APT/update.log" >&2
    die "cannot fetch the Debian source index from deb.debian.org ($SUITES); network access is needed to build jansson $VERSION once"
  fi
  if ! (cd "$SRC" && apt-get -q "${APT_OPTS[@]}" source --download-only "jansson=$VERSION") >"$APT/source.log" 2>&1; then
    cat "$APT/source.log" >&2
    die "cannot fetch the Debian source package jansson=$VERSION from deb.debian.org ($SUITES)"
  fi
  [ -f "$DSC" ] || die "apt-get source did not produce $DSC"
fi

# The cached files must still match the checksums of the .dsc (apt checked the .dsc itself
# against the signed release files when it downloaded it).
(cd "$SRC" && sed -n '/^Checksums-Sha256:/,/^[^ ]/{s/^ \([0-9a-f]\{64\}\) [0-9]* \(.*\)$/\1  \2/p}' "$DSC" |
  sha256sum --quiet -c -) || die "checksum mismatch in $SRC (delete it to fetch again)"

# 2. Unpack (without dpkg-source's own patching, to apply debian/patches/series ourselves).
WORKDIR=$ROOT/work-$VERSION
rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
tar -xzf "$SRC/jansson_$UPSTREAM.orig.tar.gz" -C "$WORKDIR"
TREE=$WORKDIR/jansson-$UPSTREAM
[ -d "$TREE" ] || die "unexpected layout of jansson_$UPSTREAM.orig.tar.gz (no jansson-$UPSTREAM/)"
tar -xJf "$SRC/jansson_$VERSION.debian.tar.xz" -C "$TREE"
if [ -f "$TREE/debian/patches/series" ]; then
  while read -r p _; do
    case "$p" in ''|'#'*) continue ;; esac
    echo "build-jansson: applying debian/patches/$p"
    patch -d "$TREE" -p1 --batch --forward --silent <"$TREE/debian/patches/$p" || die "patch $p does not apply"
  done <"$TREE/debian/patches/series"
fi

# 3. Configure, build, install into $DEST.
BUILD=$WORKDIR/build
cmake -S "$TREE" -B "$BUILD" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DJANSSON_BUILD_SHARED_LIBS=OFF \
  -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_BUILD_DOCS=OFF \
  -DJANSSON_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$WORKDIR/prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  >"$WORKDIR/cmake.log" 2>&1 || { cat "$WORKDIR/cmake.log" >&2; die "cmake configure failed"; }
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" >"$WORKDIR/build.log" 2>&1 ||
  { tail -n 40 "$WORKDIR/build.log" >&2; die "build failed"; }
cmake --install "$BUILD" >"$WORKDIR/install.log" 2>&1 ||
  { cat "$WORKDIR/install.log" >&2; die "install failed"; }

# Hidden visibility check: no object in the archive may define a default-visibility symbol.
exported=$(readelf -sW "$WORKDIR/prefix/lib/libjansson.a" |
  awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" { print $8 }' | sort -u)
[ -z "$exported" ] || die "symbols not hidden in libjansson.a: $(echo $exported | head -c 300)"

rm -rf "$DEST.new"
mkdir -p "$DEST.new/lib" "$DEST.new/include"
cp "$WORKDIR/prefix/lib/libjansson.a" "$DEST.new/lib/libjansson_pic.a"
cp "$WORKDIR/prefix/include/"jansson*.h "$DEST.new/include/"
cp "$TREE/LICENSE" "$DEST.new/LICENSE"
echo "$STAMP_TEXT" >"$DEST.new/.stamp"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
rm -rf "$WORKDIR"
echo "build-jansson: done in $((SECONDS - start)) s: $DEST/lib/libjansson_pic.a"
