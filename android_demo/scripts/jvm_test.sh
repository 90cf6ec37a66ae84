#!/usr/bin/env bash
# Compiles android_demo/core (pure Kotlin/JVM) and runs its JUnit 4 tests without Gradle or
# the Android SDK. Needs only a JDK 17+, npm and (for JUnit, if not yet present) apt-get.
#
#   bash android_demo/scripts/jvm_test.sh        # from anywhere
#
# - Kotlin compiler: the npm package `kotlin-compiler` at KOTLIN_VERSION, installed once
#   into the cache folder (default android_demo/build/jvm-test, git-ignored; override with
#   JVM_TEST_CACHE).
# - JUnit 4 + Hamcrest: Debian's `junit4` package (/usr/share/java/junit4.jar), installed
#   with apt-get only when the jar is missing; JUNIT_JAR / HAMCREST_JAR override the paths.
# - The tests read tests/data/tokenizer_cases.json from the repository root, passed as the
#   system property `tflite_lowrank.repo_root`.
# Prints the test runner's closing line, `N passed, N failed`, and exits non-zero on failure.
set -euo pipefail

KOTLIN_VERSION="${KOTLIN_VERSION:-2.1.21}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEMO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
REPO_ROOT="$(cd "$DEMO_DIR/.." && pwd)"
CACHE="${JVM_TEST_CACHE:-$DEMO_DIR/build/jvm-test}"
mkdir -p "$CACHE"

log() { echo "jvm_test: $*" >&2; }

# --- JDK -------------------------------------------------------------------------------
if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  log "a JDK (java, javac) 17 or newer is required"; exit 2
fi

# --- Kotlin compiler from npm ----------------------------------------------------------
KOTLIN_HOME="$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler"
if [ ! -f "$KOTLIN_HOME/lib/kotlin-compiler.jar" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is required to install kotlin-compiler@$KOTLIN_VERSION"; exit 2
  fi
  log "installing kotlin-compiler@$KOTLIN_VERSION from npm into $CACHE"
  rm -rf "$CACHE/kotlin-$KOTLIN_VERSION"
  mkdir -p "$CACHE/kotlin-$KOTLIN_VERSION"
  npm install --prefix "$CACHE/kotlin-$KOTLIN_VERSION" --no-audit --no-fund --no-save \
    --loglevel=error "kotlin-compiler@$KOTLIN_VERSION" >&2
fi
KOTLIN_STDLIB="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
[ -f "$KOTLIN_STDLIB" ] || { log "kotlin-stdlib.jar not found in $KOTLIN_HOME/lib"; exit 2; }

# --- JUnit 4 and Hamcrest from Debian --------------------------------------------------
find_jar() { # first existing path among the arguments
  for candidate in "$@"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
junit_jar() { find_jar "${JUNIT_JAR:-}" /usr/share/java/junit4.jar /usr/share/java/junit4-*.jar; }
hamcrest_jar() {
  find_jar "${HAMCREST_JAR:-}" /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar \
    /usr/share/java/hamcrest-all.jar
}
if ! junit_jar >/dev/null || ! hamcrest_jar >/dev/null; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "JUnit 4 not found: set JUNIT_JAR and HAMCREST_JAR, or install Debian's junit4 package"; exit 2
  fi
  log "installing junit4 with apt-get"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends junit4 >&2
fi
JUNIT="$(junit_jar)" || { log "junit4.jar still missing after install"; exit 2; }
HAMCREST="$(hamcrest_jar)" || { log "hamcrest jar still missing after install"; exit 2; }

# --- compile ---------------------------------------------------------------------------
CORE="$DEMO_DIR/core"
# A fresh folder per run, so concurrent runs sharing the cache do not collide.
OUT="$(mktemp -d "$CACHE/classes.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$OUT/main" "$OUT/test"
mapfile -t MAIN_SOURCES < <(find "$CORE/src/main/kotlin" -name '*.kt' | sort)
mapfile -t TEST_SOURCES < <(find "$CORE/src/test/kotlin" -name '*.kt' | sort)
KOTLINC=(env JAVA_OPTS="-Xmx1g -Xss4m" bash "$KOTLIN_HOME/bin/kotlinc" -jvm-target 17 -Werror)

log "compiling ${#MAIN_SOURCES[@]} main sources with Kotlin $KOTLIN_VERSION"
"${KOTLINC[@]}" -no-stdlib -cp "$KOTLIN_STDLIB" -module-name core -d "$OUT/main" "${MAIN_SOURCES[@]}"
log "compiling ${#TEST_SOURCES[@]} test sources"
"${KOTLINC[@]}" -no-stdlib -cp "$KOTLIN_STDLIB:$OUT/main:$JUNIT:$HAMCREST" \
  -Xfriend-paths="$OUT/main" -module-name core -d "$OUT/test" "${TEST_SOURCES[@]}"

# --- run -------------------------------------------------------------------------------
# Every compiled top-level class named *Test is a test class.
mapfile -t TEST_CLASSES < <(cd "$OUT/test" && find . -name '*Test.class' ! -name '*$*' \
  | sed -e 's|^\./||' -e 's|\.class$||' -e 's|/|.|g' | sort)
if [ "${#TEST_CLASSES[@]}" -eq 0 ]; then log "no test classes found"; exit 1; fi

CLASSPATH="$OUT/test:$OUT/main:$CORE/src/test/resources:$KOTLIN_STDLIB:$JUNIT:$HAMCREST"
java -cp "$CLASSPATH" -Dtflite_lowrank.repo_root="$REPO_ROOT" \
  io.github.tflitelowrank.demo.core.testing.JvmTestMain "${TEST_CLASSES[@]}"
