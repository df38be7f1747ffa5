"""The Java SDK's pom.xml (what Maven users build) built by Maven itself, offline.

The project builds the SDK with clients/java/build.sh; this holds the pom to the same sources:
`mvn -o install` on a copy of clients/java, against Debian's Maven repository
(/usr/share/maven-repo) seen through a symlinked local repository in a temp directory, compiles
for Java 17 with the pom's -Xlint:all and no warning allowed, runs the JUnit 5 unit tests with
surefire (LiveServiceTest only in the live-service profile), and installs the jar under the
pom's coordinates. Debian ships other versions of the plugins than the pom pins for Maven
Central, so each is passed as the -D property the pom reads it from (DEBIAN_VERSIONS). Maven and
the plugins come from Debian (scripts/bootstrap.sh test installs them): when they are missing
these tests fail, they never skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sdk.test_java_sdk import EXPECTED_TESTS, JAVA_DIR, junit_results

MAVEN_REPO = Path("/usr/share/maven-repo")
PLUGINS = "org.apache.maven.plugins"
# The pom's version property -> (groupId, artifactId) Debian must have, and its Debian package.
DEBIAN_VERSIONS = {
    "jackson.version": (
        "com.fasterxml.jackson.core",
        "jackson-databind",
        "libjackson2-databind-java",
    ),
    "junit.version": ("org.junit.jupiter", "junit-jupiter", "junit5"),
    "compiler.plugin.version": (PLUGINS, "maven-compiler-plugin", "libmaven-compiler-plugin-java"),
    "surefire.plugin.version": (PLUGINS, "maven-surefire-plugin", "libsurefire-java"),
    "resources.plugin.version": (
        PLUGINS,
        "maven-resources-plugin",
        "libmaven-resources-plugin-java",
    ),
    "jar.plugin.version": (PLUGINS, "maven-jar-plugin", "libmaven-jar-plugin-java"),
    "install.plugin.version": (PLUGINS, "maven-install-plugin", "libmaven-install-plugin-java"),
}
# The pom's version repeats VERSION (tests/packaging/test_distributions.py holds it to it).
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
COORDINATES = Path("com", "k8s", "monitor", "gpu-management-client", VERSION)
JAR_NAME = f"gpu-management-client-{VERSION}.jar"
# Skipped without the live service: it verifies a delivery test_java_sdk.py captures from it.
SKIPPED_OFFLINE = {"WebhookSignatureTest.aRealDeliveryOfTheService"}
JAVA_17_CLASS_FILE = 61


@dataclass(frozen=True)
class MavenBuild:
    project: Path
    local_repository: Path
    settings: Path
    properties: tuple[str, ...]
    output: str


def debian_version(group_id: str, artifact_id: str) -> str | None:
    """The real version Debian's Maven repository has a jar of (not an alias like 2.x or
    debian, nor a relocation POM of an older version), the highest when there are several."""
    directory = MAVEN_REPO.joinpath(*group_id.split("."), artifact_id)
    if not directory.is_dir():
        return None
    versions = [
        child.name
        for child in directory.iterdir()
        if re.fullmatch(r"\d+(\.\d+)+", child.name)
        and (child / f"{artifact_id}-{child.name}.jar").exists()
    ]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")), default=None)


def debian_properties() -> tuple[str, ...]:
    """-D properties pointing the pom at Debian's versions; fails (never skips) naming the
    Debian packages to install when Maven or an artifact is missing."""
    properties: list[str] = []
    missing: list[str] = []
    if shutil.which("mvn") is None:
        missing.append("maven")
    for name, (group_id, artifact_id, package) in DEBIAN_VERSIONS.items():
        version = debian_version(group_id, artifact_id)
        if version is None:
            missing.append(f"{package} ({group_id}:{artifact_id} in {MAVEN_REPO})")
        else:
            properties.append(f"-D{name}={version}")
    if missing:
        pytest.fail(
            "the pom's offline Maven build needs Debian's Maven and plugins "
            f"(scripts/bootstrap.sh test installs them); missing: {', '.join(missing)}"
        )
    return tuple(properties)


def maven(build: MavenBuild, *arguments: str, project: Path | None = None) -> str:
    """Run offline Maven on the project (stdout and stderr together); fails on an error."""
    environment = {**os.environ}
    environment.pop("GPU_API_BASE_URL", None)  # it would turn the live-service profile on
    result = subprocess.run(
        ["mvn", "-o", "-B", "-s", str(build.settings), *build.properties, *arguments],
        cwd=project or build.project,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"mvn {' '.join(arguments)}:\n{result.stdout}"
    return result.stdout


def top_level_classes(sources: Path) -> set[str]:
    """The class file of each source file under ``sources``, as a jar names it."""
    return {
        path.relative_to(sources).with_suffix(".class").as_posix()
        for path in sources.rglob("*.java")
    }


def copy_sdk(destination: Path) -> Path:
    destination.mkdir(parents=True)
    shutil.copy2(JAVA_DIR / "pom.xml", destination / "pom.xml")
    shutil.copytree(JAVA_DIR / "src", destination / "src")
    return destination


@pytest.fixture(scope="module")
def maven_build(tmp_path_factory: pytest.TempPathFactory) -> MavenBuild:
    """`mvn -o install` of a copy of clients/java, once for this module."""
    properties = debian_properties()
    root = tmp_path_factory.mktemp("java-maven")
    # Maven writes into its local repository (tracking files, what install puts there), so it
    # gets a tree of links to Debian's read-only one.
    local_repository = root / "repository"
    shutil.copytree(MAVEN_REPO, local_repository, copy_function=os.symlink)
    settings = root / "settings.xml"
    settings.write_text(
        "<settings>\n"
        f"  <localRepository>{local_repository}</localRepository>\n"
        "  <offline>true</offline>\n"
        "</settings>\n"
    )
    build = MavenBuild(copy_sdk(root / "project"), local_repository, settings, properties, "")
    output = maven(build, "-Dmaven.compiler.failOnWarning=true", "install")
    return MavenBuild(build.project, local_repository, settings, properties, output)


def test_surefire_runs_every_unit_test_and_leaves_the_live_suite_out(
    maven_build: MavenBuild,
) -> None:
    results = junit_results(maven_build.project / "target" / "surefire-reports")
    assert "LiveServiceTest" not in results, maven_build.output
    not_passed = {
        f"{cls}.{name}": outcome
        for cls, tests in results.items()
        for name, outcome in tests.items()
        if outcome != "passed"
    }
    assert not_passed == dict.fromkeys(SKIPPED_OFFLINE, "skipped"), maven_build.output
    for cls, names in EXPECTED_TESTS.items():
        if cls != "LiveServiceTest":
            assert names <= set(results.get(cls, {})), (cls, names - set(results.get(cls, {})))


def test_the_live_service_profile_runs_the_live_suite(
    maven_build: MavenBuild, tmp_path: Path
) -> None:
    """-P live-service (on by itself when GPU_API_BASE_URL is set) includes LiveServiceTest;
    without the service's address it skips itself. Surefire alone, on a copy of the build."""
    project = shutil.copytree(maven_build.project, tmp_path / "project")
    reports = project / "target" / "surefire-reports"
    shutil.rmtree(reports)
    output = maven(maven_build, "-P", "live-service", "surefire:test", project=project)
    results = junit_results(reports)
    assert set(results.get("LiveServiceTest", {}).values()) == {"skipped"}, output


def test_the_jar_holds_every_sdk_class_for_java_17_under_the_pom_coordinates(
    maven_build: MavenBuild,
) -> None:
    jar = maven_build.project / "target" / JAR_NAME
    with zipfile.ZipFile(jar) as archive:
        classes = {name for name in archive.namelist() if name.endswith(".class")}
        client_class = archive.read("com/k8s/monitor/client/GpuManagementClient.class")
    main_classes = top_level_classes(JAVA_DIR / "src" / "main" / "java")
    assert main_classes <= classes, sorted(main_classes - classes)
    assert not top_level_classes(JAVA_DIR / "src" / "test" / "java") & classes
    # A class file's major version: bytes 6-7, big-endian (JVM specification, section 4.1).
    assert int.from_bytes(client_class[6:8], "big") == JAVA_17_CLASS_FILE
    installed = maven_build.local_repository / COORDINATES
    assert (installed / JAR_NAME).read_bytes() == jar.read_bytes()
    pom = (installed / f"gpu-management-client-{VERSION}.pom").read_text()
    assert pom == (JAVA_DIR / "pom.xml").read_text()


def test_compiler_warnings_are_reported(maven_build: MavenBuild, tmp_path: Path) -> None:
    """The pom's -Xlint:all reaches javac: a raw type in the sources is reported."""
    project = copy_sdk(tmp_path / "project")
    probe = project / "src" / "main" / "java" / "com" / "k8s" / "monitor" / "client"
    (probe / "LintProbe.java").write_text(
        "package com.k8s.monitor.client;\n\n"
        "final class LintProbe {\n"
        "    static java.util.List<?> raw() {\n"
        "        return new java.util.ArrayList();\n"
        "    }\n"
        "}\n"
    )
    output = maven(maven_build, "compile", project=project)
    assert re.search(r"\[WARNING\] .*LintProbe\.java:\[5,\d+\] found raw type", output), output
