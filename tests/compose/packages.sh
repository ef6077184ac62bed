#!/usr/bin/env bash
# compose.packages: the Dockerfile installs the packages CMake requires.
#
#   tests/compose/packages.sh SOURCE_DIR [HUB360_BINARY]
#
# 1. The Dockerfile's build stage installs scripts/deps/build.txt (through
#    scripts/install-deps) and its runtime stage scripts/deps/runtime.txt
#    (install-deps --runtime); it installs nothing else with apt.
# 2. Every Debian package CMake names when a dependency is missing
#    (cmake/Dependencies.cmake) is in build.txt, and every -dev package of
#    build.txt is one CMake names.
# 3. Each -dev package's runtime library (the table below) is in
#    runtime.txt, and runtime.txt holds nothing else but the tools it
#    says it holds.
# 4. With the binary: the package of every library it links (readelf
#    NEEDED, found with ldconfig and dpkg) is in runtime.txt, libc6 aside.
set -euo pipefail
src=${1:?usage: packages.sh SOURCE_DIR [HUB360_BINARY]}
bin=${2:-}
fails=0
fail() { echo "compose.packages: $*" >&2; fails=$((fails + 1)); }
list() { grep -vE '^[[:space:]]*(#|$)' "$1" | sort -u; }

# -dev package -> the library package the binary needs at run time.
declare -A runtime_of=(
    [librdkafka-dev]=librdkafka1 [libavro-dev]=libavro23
    [libjansson-dev]=libjansson4 [libyaml-dev]=libyaml-0-2
    [libcurl4-openssl-dev]=libcurl4 [libssl-dev]=libssl3
    [liblmdb-dev]=liblmdb0 [libjq-dev]=libjq1 [libonig-dev]=libonig5
    [libmicrohttpd-dev]=libmicrohttpd12 [libxml2-dev]=libxml2
)
# runtime.txt's packages that are not libraries (its comment says why).
tools="ca-certificates curl lmdb-utils tzdata"

dockerfile=$src/Dockerfile
build=$(list "$src/scripts/deps/build.txt")
runtime=$(list "$src/scripts/deps/runtime.txt")

# 1. How the Dockerfile installs packages.
grep -qE '^RUN scripts/install-deps( |$)' "$dockerfile" ||
    fail "Dockerfile: the build stage must RUN scripts/install-deps (build.txt)"
grep -qE 'install-deps --runtime' "$dockerfile" ||
    fail "Dockerfile: the runtime stage must run install-deps --runtime (runtime.txt)"
grep -q 'COPY scripts/deps/runtime.txt' "$dockerfile" ||
    fail "Dockerfile: the runtime stage must copy scripts/deps/runtime.txt"
if grep -nE 'apt-get|apt install|dpkg -i' "$dockerfile"; then
    fail "Dockerfile: packages come from scripts/deps/*.txt only (lines above)"
fi

# 2. CMake's packages and build.txt.
cmake_pkgs=$(
    {
        sed -nE 's/^hub360_require\([A-Z0-9_]+ +[^ ]+ +([^ )]+)\).*/\1/p' \
            "$src/cmake/Dependencies.cmake"
        grep -oE 'apt-get install -y [a-z0-9. +-]+' "$src/cmake/Dependencies.cmake" |
            sed 's/apt-get install -y //' | tr ' ' '\n'
    } | grep -v '^$' | sort -u)
[ -n "$cmake_pkgs" ] || fail "found no package names in cmake/Dependencies.cmake"
for p in $cmake_pkgs; do
    grep -qxF "$p" <<<"$build" ||
        fail "CMake requires $p but scripts/deps/build.txt lacks it"
done
for p in $(grep -- '-dev$' <<<"$build"); do
    grep -qxF "$p" <<<"$cmake_pkgs" ||
        fail "scripts/deps/build.txt has $p but CMake requires no such package"
done

# 3. Runtime libraries of the -dev packages.
wanted=""
for p in $(grep -- '-dev$' <<<"$build"); do
    r=${runtime_of[$p]:-}
    if [ -z "$r" ]; then
        fail "no runtime package known for $p: add it to runtime_of in $0"
        continue
    fi
    wanted+="$r"$'\n'
    grep -qxF "$r" <<<"$runtime" ||
        fail "$p is built against, but its runtime library $r is not in scripts/deps/runtime.txt"
done
for p in $runtime; do
    grep -qxF "$p" <<<"$wanted" || [[ " $tools " == *" $p "* ]] ||
        fail "scripts/deps/runtime.txt has $p, which no -dev package of build.txt needs"
done

# 4. What the binary links.
if [ -n "$bin" ]; then
    command -v dpkg >/dev/null && command -v readelf >/dev/null ||
        fail "dpkg and readelf are needed to check $bin"
    for lib in $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
        # libc6's own (the dynamic loader is NEEDED by code with
        # thread-local variables, which asks it for their addresses)
        case $lib in libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | ld-linux*.so.*) continue ;; esac
        # a sanitizer build (CI's second pass) links the sanitizers'
        # runtimes; the image is built without them
        case $lib in libasan.so.* | libubsan.so.* | liblsan.so.* | libtsan.so.*) continue ;; esac
        # (awk reads to the end: an early exit would SIGPIPE ldconfig,
        # and pipefail would end the script without a word)
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
        pkg=""
        for f in "$path" "$(readlink -f "$path" 2>/dev/null)"; do
            [ -n "$f" ] && pkg=$(dpkg -S "$f" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') &&
                [ -n "$pkg" ] && break
        done
        if [ -z "$pkg" ]; then
            fail "$bin links $lib, which no Debian package provides here"
        elif ! grep -qxF "$pkg" <<<"$runtime"; then
            fail "$bin links $lib from $pkg, which scripts/deps/runtime.txt lacks"
        fi
    done
fi

[ "$fails" -eq 0 ] || exit 1
echo "compose.packages: ok (build.txt matches CMake; runtime.txt covers $(wc -w <<<"$wanted") libraries${bin:+ and what the binary links})"
