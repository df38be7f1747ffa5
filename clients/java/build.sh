#!/usr/bin/env bash
# Builds and tests the Java SDK offline with javac and Debian's jars (no Maven, no network):
#   clients/java/build.sh            compile, and package build/gpu-management-client.jar
#   clients/java/build.sh test [ARGS] also compile the JUnit 5 tests and run them with the
#                                    console launcher (ARGS go to it; reports in build/test-reports)
#   clients/java/build.sh classpath  print the classpath a program using the SDK needs
# JAVA_BUILD_DIR (default clients/java/build) is where output goes. JAVA_LIB (default
# /usr/share/java) is where the jars are: Debian's libjackson2-databind-java and
# junit5 put them there. Users with Maven build from pom.xml instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="${JAVA_LIB:-/usr/share/java}"
out="${JAVA_BUILD_DIR:-$here/build}"
jackson="$lib/jackson-databind.jar:$lib/jackson-core.jar:$lib/jackson-annotations.jar"
jar_file="$out/gpu-management-client.jar"

need() {
  for path in "$@"; do
    [ -e "$path" ] || { echo "build.sh: missing $path (apt-get install default-jdk-headless libjackson2-databind-java junit5)" >&2; exit 2; }
  done
}

compile_main() {
  command -v javac >/dev/null 2>&1 || { echo "build.sh: javac not found (apt-get install default-jdk-headless)" >&2; exit 2; }
  need "$lib/jackson-databind.jar" "$lib/jackson-core.jar" "$lib/jackson-annotations.jar"
  rm -rf "$out/classes"
  mkdir -p "$out/classes"
  find "$here/src/main/java" -name '*.java' >"$out/main-sources.txt"
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$out/classes" -cp "$jackson" \
    @"$out/main-sources.txt"
  jar --create --file "$jar_file" -C "$out/classes" .
}

case "${1:-build}" in
  build)
    compile_main
    echo "$jar_file"
    ;;
  classpath)
    echo "$jar_file:$jackson"
    ;;
  test)
    shift
    compile_main
    launcher="$lib/junit-platform-console-standalone.jar"
    need "$launcher" "$lib/junit-jupiter-api.jar" "$lib/opentest4j.jar" "$lib/apiguardian-api.jar"
    junit="$lib/junit-jupiter-api.jar:$lib/junit-platform-commons.jar:$lib/opentest4j.jar:$lib/apiguardian-api.jar"
    rm -rf "$out/test-classes" "$out/test-reports"
    mkdir -p "$out/test-classes"
    find "$here/src/test/java" -name '*.java' >"$out/test-sources.txt"
    javac --release 17 -encoding UTF-8 -Xlint:all,-missing-explicit-ctor -Werror \
      -d "$out/test-classes" -cp "$jar_file:$jackson:$junit" @"$out/test-sources.txt"
    java -jar "$launcher" \
      --class-path "$out/test-classes:$jar_file:$jackson" \
      --scan-class-path "$out/test-classes" \
      --reports-dir "$out/test-reports" \
      --disable-banner --details=tree "$@"
    ;;
  *)
    echo "usage: $0 [build|test [launcher args]|classpath]" >&2
    exit 2
    ;;
esac
