"""Lay out an OpenSearch distribution from Maven artifacts, and write its configuration.

The layout matches the official archive: ``lib/`` contains the server class path,
``modules/<name>/`` and ``plugins/<name>/`` contain one plugin each with its
``plugin-descriptor.properties``, so the server's own plugin loader starts them
with their extension mechanism intact (ISM extends job-scheduler).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from socwb.errors import ArtifactResolutionError, NodeError
from socwb.node.artifacts import (
    MODULES,
    PLUGINS,
    Module,
    copy_artifact,
    copy_dependencies,
    plugin_coordinate,
    server_coordinates,
)

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".socwb-complete"


@dataclass
class Distribution:
    """An assembled distribution directory and what it contains."""

    path: Path
    version: str
    plugins: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def lib(self) -> Path:
        """Directory of the server class path."""
        return self.path / "lib"


def distribution_path(home: Path, version: str) -> Path:
    """Directory of the assembled distribution for ``version`` under the node home."""
    return home / f"opensearch-{version}"


def load_distribution(home: Path, version: str) -> Distribution | None:
    """Return the assembled distribution, or None when it is absent or incomplete."""
    path = distribution_path(home, version)
    marker = path / COMPLETE_MARKER
    if not marker.is_file():
        return None
    lines = marker.read_text(encoding="utf-8").splitlines()
    plugins = [line.removeprefix("plugin ") for line in lines if line.startswith("plugin ")]
    missing = [line.removeprefix("missing ") for line in lines if line.startswith("missing ")]
    return Distribution(path, version, plugins, missing)


def assemble(home: Path, version: str, maven: Path, java_home: Path | None) -> Distribution:
    """Resolve every artifact and lay out the distribution under ``home``.

    The work happens in a temporary directory that is renamed into place at
    the end, so an interrupted assembly never looks complete. An optional
    plugin that Maven cannot resolve is recorded as missing; a required one
    raises.

    Raises:
        ArtifactResolutionError: the server, a module or a required plugin
            could not be resolved.
    """
    home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"opensearch-{version}.", dir=home))
    # mkdtemp creates the directory private, but the node may run as another user.
    work.chmod(0o755)
    try:
        distribution = _assemble_into(work, version, maven, java_home)
        target = distribution_path(home, version)
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    distribution.path = target
    return distribution


def _assemble_into(work: Path, version: str, maven: Path, java_home: Path | None) -> Distribution:
    distribution = Distribution(work, version)
    lib = work / "lib"
    # The server checks at start that <home>/bin exists, though it runs nothing from it.
    (work / "bin").mkdir()
    copy_dependencies(maven, java_home, [f"org.opensearch:opensearch:{version}"], lib)
    log4j = _jar_version(lib, "log4j-api")
    copy_dependencies(maven, java_home, server_coordinates(version, log4j)[1:], lib)

    for module in MODULES:
        _lay_out_module(work / "modules" / module.name, module, version, maven, java_home, lib)

    for plugin in PLUGINS:
        coordinate = plugin_coordinate(plugin, version)
        try:
            archive = copy_artifact(maven, java_home, coordinate, work / "downloads")
        except ArtifactResolutionError:
            if plugin.is_required:
                raise
            logger.warning(
                "optional plugin unavailable plugin=%s coordinate=%s", plugin.name, coordinate
            )
            distribution.missing.append(coordinate)
            continue
        _unpack_plugin(archive, work / "plugins" / plugin.name)
        distribution.plugins.append(plugin.name)

    shutil.rmtree(work / "downloads", ignore_errors=True)
    marker = [f"plugin {name}" for name in distribution.plugins]
    marker += [f"missing {coordinate}" for coordinate in distribution.missing]
    (work / COMPLETE_MARKER).write_text("\n".join(marker) + "\n", encoding="utf-8")
    return distribution


def _lay_out_module(
    directory: Path, module: Module, version: str, maven: Path, java_home: Path | None, lib: Path
) -> None:
    """Copy a module's jars, minus those already on the server class path."""
    copy_dependencies(maven, java_home, [f"{module.artifact}:{version}"], directory)
    on_server_path = {jar.name for jar in lib.glob("*.jar")}
    for jar in directory.glob("*.jar"):
        if jar.name in on_server_path:
            jar.unlink()
    descriptor = plugin_descriptor(module.name, module.classname, version, module.extended_plugins)
    (directory / "plugin-descriptor.properties").write_text(descriptor, encoding="utf-8")
    if module.policy is not None:
        (directory / "plugin-security.policy").write_text(module.policy, encoding="utf-8")


def plugin_descriptor(
    name: str, classname: str, version: str, extended_plugins: tuple[str, ...]
) -> str:
    """Return the ``plugin-descriptor.properties`` text that the plugin loader reads."""
    return (
        f"description=OpenSearch module {name}\n"
        f"version={version}\n"
        f"name={name}\n"
        f"classname={classname}\n"
        "java.version=11\n"
        f"opensearch.version={version}\n"
        f"extended.plugins={','.join(extended_plugins)}\n"
        "has.native.controller=false\n"
    )


def install_plugin_zip(distribution: Distribution, archive: Path) -> str:
    """Unpack a plugin zip that the user supplied, once, and return the plugin name.

    Raises:
        NodeError: the zip has no plugin descriptor or an unsafe path.
    """
    with zipfile.ZipFile(archive) as bundle:
        try:
            descriptor = bundle.read("plugin-descriptor.properties").decode("utf-8")
        except KeyError as exc:
            raise NodeError(
                f"{archive} has no plugin-descriptor.properties at its top level; "
                "pass the plugin zip itself, not a distribution archive"
            ) from exc
    match = re.search(r"^name=(.+)$", descriptor, flags=re.MULTILINE)
    if match is None:
        raise NodeError(f"the plugin descriptor in {archive} has no name= line")
    name = match.group(1).strip()
    directory = distribution.path / "plugins" / name
    if not directory.exists():
        logger.info("installing plugin=%s archive=%s", name, archive)
        _unpack_plugin(archive, directory)
    if name not in distribution.plugins:
        distribution.plugins.append(name)
    return name


def _unpack_plugin(archive: Path, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            resolved = (directory / member).resolve()
            if not resolved.is_relative_to(directory.resolve()):
                raise NodeError(f"plugin archive {archive} has an unsafe path {member!r}")
        bundle.extractall(directory)


def _jar_version(lib: Path, artifact: str) -> str:
    for jar in lib.glob(f"{artifact}-*.jar"):
        match = re.fullmatch(rf"{re.escape(artifact)}-(\d[\w.\-]*)\.jar", jar.name)
        if match:
            return match.group(1)
    raise NodeError(f"{artifact} is missing from {lib}; delete {lib.parent} and start again")


def write_config(
    config_dir: Path,
    *,
    http_port: int,
    transport_port: int,
    data_path: Path,
    logs_path: Path,
    repo_path: Path,
    has_ism: bool,
) -> None:
    """Write opensearch.yml and log4j2.properties for a single node on 127.0.0.1.

    The ISM setting is written only when the plugin is present, because the
    server rejects settings that no loaded plugin declares.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "cluster.name": "socwb-local",
        "node.name": "socwb-local-1",
        "network.host": "127.0.0.1",
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        "discovery.type": "single-node",
        "path.data": str(data_path),
        "path.logs": str(logs_path),
        "path.repo": f"[{repo_path}]",
    }
    if has_ism:
        # ISM checks managed indices every 5 minutes by default; a local node
        # checks each minute so that policies visibly run during tests.
        settings["plugins.index_state_management.job_interval"] = "1"
    text = "".join(f"{key}: {value}\n" for key, value in settings.items())
    (config_dir / "opensearch.yml").write_text(text, encoding="utf-8")
    (config_dir / "log4j2.properties").write_text(LOG4J_CONFIG, encoding="utf-8")


LOG4J_CONFIG = """status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
"""
