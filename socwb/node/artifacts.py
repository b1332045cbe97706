"""Find Java and Maven, and resolve the OpenSearch artifacts from Maven Central.

The node is assembled from the same jars the official distribution ships:
the server with its dependencies, a few modules published as ``*-client`` or
plain jars, and plugin zips. Maven's local repository (``~/.m2``) caches them,
so only the first assembly downloads anything.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from socwb.errors import ArtifactResolutionError, ToolMissingError

logger = logging.getLogger(__name__)

MIN_JAVA = 17
JAVA_FIX = (
    "install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless) "
    "or set SOCWB_NODE__JAVA_HOME or JAVA_HOME to a Java 17+ installation"
)
MAVEN_FIX = "install Apache Maven 3.6 or newer (Debian: apt-get install maven)"


@dataclass(frozen=True)
class Module:
    """A bundled OpenSearch module: its Maven artifact and plugin descriptor values."""

    name: str
    artifact: str
    classname: str
    extended_plugins: tuple[str, ...] = ()
    policy: str | None = None


# Without getClassLoader and accessDeclaredMembers, Netty's event loops die
# silently during shutdown and the node then takes about 50 s to stop.
NETTY_POLICY = """grant {
  permission java.net.SocketPermission "*", "accept,connect";
  permission java.net.NetPermission "getNetworkInformation";
  permission java.lang.RuntimePermission "setContextClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
  permission java.lang.RuntimePermission "accessDeclaredMembers";
  permission java.lang.RuntimePermission "modifyThread";
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
};
"""

CLASSLOADER_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""

# The modules soc-workbench needs: HTTP, ingest pipelines with templated values
# (set processor with {{{_ingest.timestamp}}}), Painless scripts, update and
# delete by query, the common analyzers and extra field types.
MODULES = (
    Module(
        "transport-netty4",
        "org.opensearch.plugin:transport-netty4-client",
        "org.opensearch.transport.Netty4Plugin",
        policy=NETTY_POLICY,
    ),
    Module(
        "lang-painless",
        "org.opensearch.plugin:lang-painless",
        "org.opensearch.painless.PainlessPlugin",
        policy=CLASSLOADER_POLICY,
    ),
    Module(
        "lang-mustache",
        "org.opensearch.plugin:lang-mustache-client",
        "org.opensearch.script.mustache.MustachePlugin",
        policy=CLASSLOADER_POLICY,
    ),
    Module(
        "ingest-common",
        "org.opensearch.plugin:ingest-common",
        "org.opensearch.ingest.common.IngestCommonPlugin",
        extended_plugins=("lang-painless",),
    ),
    Module(
        "analysis-common",
        "org.opensearch.plugin:analysis-common",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        extended_plugins=("lang-painless",),
    ),
    Module(
        "reindex",
        "org.opensearch.plugin:reindex-client",
        "org.opensearch.index.reindex.ReindexPlugin",
    ),
    Module(
        "mapper-extras",
        "org.opensearch.plugin:mapper-extras-client",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
    ),
)


@dataclass(frozen=True)
class PluginZip:
    """A plugin published on Maven Central as a zip, unpacked under plugins/."""

    name: str
    artifact: str
    is_required: bool


PLUGINS = (
    PluginZip("opensearch-job-scheduler", "org.opensearch.plugin:opensearch-job-scheduler", True),
    # NOTE: no version of this zip was on Maven Central when this was written;
    # the node then runs without ISM and `socwb node status` reports it.
    PluginZip(
        "opensearch-index-management", "org.opensearch.plugin:opensearch-index-management", False
    ),
)

SERVER_EXTRAS = (
    "org.apache.logging.log4j:log4j-core",
    "org.opensearch:opensearch-plugin-classloader",
)


def server_coordinates(version: str, log4j_version: str) -> list[str]:
    """Maven coordinates of the server and the jars it needs on its class path."""
    return [
        f"org.opensearch:opensearch:{version}",
        f"{SERVER_EXTRAS[0]}:{log4j_version}",
        f"{SERVER_EXTRAS[1]}:{version}",
    ]


def plugin_coordinate(plugin: PluginZip, version: str) -> str:
    """Return the zip coordinate of a plugin, whose version adds a fourth number."""
    return f"{plugin.artifact}:{version}.0:zip"


def find_java(java_home: Path | None) -> tuple[Path, int]:
    """Return the java executable and its major version.

    Raises:
        ToolMissingError: no java found, or it is older than Java 17.
    """
    if java_home is not None:
        java = java_home / "bin" / "java"
        if not java.is_file():
            raise ToolMissingError(f"no java executable at {java}; {JAVA_FIX}")
    else:
        found = shutil.which("java")
        if found is None:
            raise ToolMissingError(f"java was not found on PATH; {JAVA_FIX}")
        java = Path(found)
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise ToolMissingError(
            f"{java} is Java {major}, but Java {MIN_JAVA}+ is required; {JAVA_FIX}"
        )
    return java, major


def java_major_version(java: Path) -> int:
    """Run ``java -version`` and parse the major version from its output."""
    try:
        completed = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise ToolMissingError(f"could not run {java}: {exc}; {JAVA_FIX}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', completed.stderr + completed.stdout)
    if match is None:
        raise ToolMissingError(f"could not read the version of {java}; {JAVA_FIX}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_maven() -> Path:
    """Return the mvn executable.

    Raises:
        ToolMissingError: Maven is not on PATH.
    """
    found = shutil.which("mvn")
    if found is None:
        raise ToolMissingError(f"mvn was not found on PATH; {MAVEN_FIX}")
    return Path(found)


def copy_dependencies(
    maven: Path, java_home: Path | None, coordinates: list[str], destination: Path
) -> None:
    """Copy jars and their runtime dependencies into ``destination`` with Maven.

    Raises:
        ArtifactResolutionError: Maven could not resolve a coordinate.
    """
    dependencies = "".join(_dependency_xml(coordinate) for coordinate in coordinates)
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local.socwb</groupId><artifactId>node-assembly</artifactId>"
        "<version>1</version><packaging>pom</packaging>"
        f"<dependencies>{dependencies}</dependencies></project>"
    )
    with tempfile.TemporaryDirectory(prefix="socwb-maven-") as work:
        (Path(work) / "pom.xml").write_text(pom, encoding="utf-8")
        _run_maven(
            maven,
            java_home,
            [
                "dependency:copy-dependencies",
                f"-DoutputDirectory={destination}",
                "-DincludeScope=runtime",
            ],
            Path(work),
            coordinates,
        )


def copy_artifact(maven: Path, java_home: Path | None, coordinate: str, destination: Path) -> Path:
    """Copy one artifact (such as a plugin zip) into ``destination`` and return its path.

    Raises:
        ArtifactResolutionError: Maven could not resolve the coordinate.
    """
    with tempfile.TemporaryDirectory(prefix="socwb-maven-") as work:
        _run_maven(
            maven,
            java_home,
            [
                "dependency:copy",
                f"-Dartifact={coordinate}",
                f"-DoutputDirectory={destination}",
                "-Dmdep.stripVersion=false",
            ],
            Path(work),
            [coordinate],
        )
    group, artifact, version, packaging = coordinate.split(":")
    return destination / f"{artifact}-{version}.{packaging}"


def _dependency_xml(coordinate: str) -> str:
    group, artifact, version = coordinate.split(":")[:3]
    return (
        f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>"
    )


def _run_maven(
    maven: Path, java_home: Path | None, goals: list[str], work: Path, coordinates: list[str]
) -> None:
    environment = dict(os.environ)
    if java_home is not None:
        environment["JAVA_HOME"] = str(java_home)
    command = [str(maven), "-B", "-q", *goals]
    logger.info("resolving artifacts=%s", ",".join(coordinates))
    completed = subprocess.run(
        command, cwd=work, env=environment, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        missing = _missing_coordinates(output) or coordinates
        reason = _first_error_line(output)
        raise ArtifactResolutionError(
            f"Maven could not resolve {', '.join(missing)} from Maven Central: {reason}; "
            "check the version and that Maven Central is reachable",
            coordinates=missing,
        )


def _missing_coordinates(output: str) -> list[str]:
    found = re.findall(
        r"(?:Could not find artifact|artifact:?) ([\w.\-]+:[\w.\-]+:[\w.:\-]+)", output
    )
    return sorted({coordinate.rstrip(".") for coordinate in found})


def _first_error_line(output: str) -> str:
    for line in output.splitlines():
        if "ERROR" in line:
            return re.sub(r"\x1b\[[0-9;]*m", "", line).replace("[ERROR]", "").strip()[:400]
    return "no error line in Maven's output"
