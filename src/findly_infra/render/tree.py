"""The rendered tree: a Kustomize base, an overlay per environment, and Prometheus rule files.

:func:`render_platform` is pure and deterministic (stable order, no timestamps): the same platform
renders the same bytes, so GitOps diffs show only real changes. :func:`write_tree` puts it on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import errno
import json
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from findly_infra.domain.platform import Platform
from findly_infra.render.access import access_objects
from findly_infra.render.alertmanager import alertmanager_config
from findly_infra.render.manifests import (
    Manifest,
    environment_manifests,
    fronted_services,
    service_base_manifests,
)
from findly_infra.render.rules import alert_rule_groups, prometheus_rule, slo_rule_groups

__all__ = [
    "HEADER",
    "OWNED",
    "TreeChange",
    "UnsafeOutputError",
    "dump",
    "render_platform",
    "tree_changes",
    "write_tree",
]

HEADER = "# Rendered by findly-infra from the platform file. Do not edit: change the file and render again.\n"
OWNED = ("access", "base", "overlays", "prometheus")
_KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# YAML 1.1 words that some parsers (go-yaml v2, so kubectl of old) read as booleans or null
_RESERVED = frozenset(["y", "yes", "n", "no", "on", "off", "true", "false", "null", "~"])
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _scalar(value: object) -> str:
    """One scalar: plain where it cannot be misread, else a double-quoted (JSON) string, which YAML reads as is."""
    if value is None or isinstance(value, bool):
        return _CONSTANTS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        number = repr(value)  # YAML 1.1 reads "1e-06" as a string: it needs the dot of "1.0e-06"
        return number.replace("e", ".0e", 1) if "e" in number and "." not in number else number
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _NOT_YAML_PRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


# what YAML cannot hold as is (outside its printable set) or reads as a line break: escaped in a quoted scalar
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _literal(text: str) -> tuple[str, list[str]] | None:
    """A multi-line string as a literal block (``|`` or ``|-``) with its lines, where one can hold it exactly."""
    if "\n" not in text or text.startswith((" ", "\n")) or "\r" in text or _UNPRINTABLE.search(text):
        return None
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\n") or any(line.endswith(" ") or "\t" in line for line in body.split("\n")):
        return None  # trailing blank lines or spaces: a quoted string says them exactly
    return ("|" if text.endswith("\n") else "|-"), body.split("\n")


class _Texts:
    """What one render has already written, by text: the YAML of each one-line value, and each key's line head
    (``<indent><key>:``) by indent. Rendering a thousand services writes some 800,000 scalars, most of them the same
    few hundred texts."""

    __slots__ = ("heads", "values")

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.heads: dict[str, dict[str, str]] = {}


def _block(node: Any, indent: str, out: list[str], texts: _Texts) -> None:
    """Block-style YAML of a non-empty mapping or sequence (sequences in mappings are not indented, as
    PyYAML and kubectl write them)."""
    if type(node) is dict or isinstance(node, Mapping):
        _mapping(node, indent, out, texts)
    else:
        _sequence(node, indent, out, texts)


def _mapping(node: Mapping[Any, Any], indent: str, out: list[str], texts: _Texts) -> None:
    """Plain ``dict``, ``list``, ``str`` and ``int`` values take the short branches first; the rest, ``_entry``."""
    inner, values = indent + "  ", texts.values
    heads = texts.heads.get(indent)
    if heads is None:
        heads = texts.heads[indent] = {}
    for key, value in node.items():
        head = heads.get(key) if type(key) is str else None
        if head is None:
            head = f"{indent}{_scalar(key)}:"
            if type(key) is str:
                heads[key] = head
        kind = type(value)
        if kind is str and (text := values.get(value)) is not None:
            out.append(f"{head} {text}")
        elif kind is int:
            out.append(f"{head} {value}")
        elif kind is dict and value:
            out.append(head)
            _mapping(value, inner, out, texts)
        elif kind is list and value:
            out.append(head)
            _sequence(value, indent, out, texts)
        else:
            _entry(head, value, inner, indent, False, out, texts)


def _sequence(node: Iterable[Any], indent: str, out: list[str], texts: _Texts) -> None:
    inner, values, head = indent + "  ", texts.values, f"{indent}-"
    for item in node:
        if type(item) is str and (text := values.get(item)) is not None:
            out.append(f"{head} {text}")
        else:
            _entry(head, item, inner, inner, True, out, texts)


def _entry(  # noqa: PLR0917 - the one general branch of _block, called in two places
    head: str, value: Any, inner: str, nested_list_indent: str, in_list: bool, out: list[str], texts: _Texts
) -> None:
    if isinstance(value, (Mapping, list, tuple)) and value:
        if in_list:  # "- key: value" (or "- - item") with the rest of the collection under it
            start = len(out)
            _block(value, inner, out, texts)
            out[start] = f"{head} {out[start][len(inner) :]}"
        else:
            out.append(head)
            _block(value, inner if isinstance(value, Mapping) else nested_list_indent, out, texts)
    elif isinstance(value, str) and (literal := _literal(value)) is not None:
        indicator, lines = literal
        out.append(f"{head} {indicator}")
        out.extend(f"{inner}{line}" if line else "" for line in lines)
    elif isinstance(value, Mapping):
        out.append(f"{head} {{}}")
    elif isinstance(value, (list, tuple)):
        out.append(f"{head} []")
    elif type(value) is str:  # not a literal block: remembered for the next time this text is a value
        text = texts.values[value] = _scalar(value)
        out.append(f"{head} {text}")
    else:
        out.append(f"{head} {_scalar(value)}")


def dump(document: Any) -> str:
    """A document as block-style YAML after the header: every value reads back as written (``yaml.safe_load``),
    multi-line strings (PromQL) as literal blocks. Written directly: PyYAML's pure-Python representer was two
    thirds of rendering a large platform; with libyaml's emitter (``yaml.CSafeDumper``) it takes three times this
    writer's time, and quotes differently in half the rendered documents."""
    return _dump(document, _Texts())


def _dump(document: Any, texts: _Texts) -> str:
    if not isinstance(document, (Mapping, list, tuple)) or not document:
        lines = [
            "{}"
            if isinstance(document, Mapping)
            else "[]"
            if isinstance(document, (list, tuple))
            else _scalar(document)
        ]
    else:
        lines = []
        _block(document, "", lines, texts)
    return HEADER + "\n".join(lines) + "\n"


def render_platform(
    platform: Platform,
    *,
    environments: Iterable[str] | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every rendered file, by path relative to the output folder, as text.

    *environments* limits the overlays (default: every environment); *versions* maps a service
    to the version (image tag) to deploy (default ``latest``). Unknown names raise
    :class:`~findly_infra.domain.platform.UnknownNameError`.
    """
    chosen = [platform.environment(name) for name in environments] if environments else list(platform.environments)
    services = platform.all_services
    known = {service.name for service in services}
    for name in versions or {}:
        if name not in known:
            platform.service(name)  # raises, naming the services there are
    files: dict[str, Manifest | dict[str, Any]] = {}
    base: dict[str, Manifest] = {}
    fronted = fronted_services(platform)
    for service in services:
        for name, manifest in service_base_manifests(platform, service, fronted=fronted).items():
            base[f"{service.name}/{name}"] = manifest
    alerts, slos = alert_rule_groups(platform), slo_rule_groups(platform)
    if alerts:
        base["monitoring/prometheusrule-alerts.yaml"] = prometheus_rule("findly-alerts", alerts)
        files["prometheus/alerts.rules.yaml"] = {"groups": alerts}
        files["prometheus/alertmanager.yaml"] = alertmanager_config(platform)
    if slos:
        base["monitoring/prometheusrule-slo.yaml"] = prometheus_rule("findly-slo", slos)
        files["prometheus/slo.rules.yaml"] = {"groups": slos}
    for name, manifest in base.items():
        files[f"base/{name}"] = manifest
    files["base/kustomization.yaml"] = {**_KUSTOMIZATION, "resources": sorted(base)}
    for environment in chosen:
        overlay = environment_manifests(platform, environment, versions or {})
        for name, manifest in overlay.items():
            files[f"overlays/{environment.name}/{name}"] = manifest
        access = {f"{item['kind'].lower()}.yaml": item for item in access_objects(platform, environment.name)}
        for name, manifest in access.items():
            files[f"access/{environment.name}/{name}"] = manifest
        files[f"access/{environment.name}/kustomization.yaml"] = {**_KUSTOMIZATION, "resources": sorted(access)}
        files[f"overlays/{environment.name}/kustomization.yaml"] = {
            **_KUSTOMIZATION,
            "namespace": platform.kubernetes.namespace_for(environment.name),
            "resources": ["../../base", *sorted(overlay)],
            "labels": [{"pairs": {"environment": environment.name}, "includeSelectors": False}],
        }
    texts = _Texts()  # shared by the documents of one render: most of their texts recur
    return {path: _dump(files[path], texts) for path in sorted(files)}


class UnsafeOutputError(Exception):
    """Raised when writing the rendered tree would go through a symbolic link (and so, perhaps, out of its folder),
    or a path of the tree leads out of it (``..``, an absolute path)."""


# Each folder below the output folder, and each file in one, is opened relative to its parent folder's descriptor
# and with O_NOFOLLOW: nothing is reached through a symbolic link, not even one put there meanwhile, and a folder is
# opened (so checked) once per pass however many files it holds — not once per file and per folder above it.
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # (a FIFO put there does not hold the check up)
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
_HEADER = HEADER.encode()


def _parts(root: Path, relative: str) -> tuple[str, ...]:
    """The names along *relative*, refused where one leads anywhere but further below *root*."""
    parts = tuple(relative.split("/"))
    if any(part in {"", ".", ".."} for part in parts):
        raise UnsafeOutputError(f"{relative!r} is not a path below {root}: render writes only inside its folder")
    return parts


def _failure(error: OSError, folder: int, name: str, walk: _Walk) -> Exception:
    """What to raise where opening *name* in *folder* failed: :class:`UnsafeOutputError` where it is a symbolic
    link, else *error* naming the whole path."""
    path = walk.path(name)
    try:
        linked = stat.S_ISLNK(os.lstat(name, dir_fd=folder).st_mode)
    except OSError:
        linked = False
    if linked:
        return UnsafeOutputError(
            f"{path} is a symbolic link: render never writes through one (it could lead out of {walk.root}); "
            "remove it, or render into another folder"
        )
    return OSError(error.errno, error.strerror, str(path))  # (OSError picks the subclass of the errno)


class _Walk:
    """The folders along one path below the output folder, kept open while the walk stays under them: visiting
    folders in sorted order opens each one once."""

    def __init__(self, root: Path, *, create: bool) -> None:
        self.root = root
        self._create = create
        self._names: list[str] = []
        self._open: list[int] = []
        self.made: list[tuple[str, ...]] = []
        """The folders this walk made, in the order it made them."""
        try:
            self._root: int | None = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # may be a link
        except FileNotFoundError:
            if create:
                raise
            self._root = None

    def __enter__(self) -> _Walk:
        return self

    @property
    def found(self) -> bool:
        """Whether the output folder was there when the walk began."""
        return self._root is not None

    def __exit__(self, *_exc: object) -> None:
        self._leave(0)
        if self._root is not None:
            os.close(self._root)

    def _leave(self, keep: int) -> None:
        for descriptor in reversed(self._open[keep:]):
            os.close(descriptor)
        del self._open[keep:], self._names[keep:]

    def enter(self, parts: tuple[str, ...]) -> int | None:
        """The folder *parts*, opened (and made, when creating); ``None`` where it does not exist."""
        keep = 0
        while keep < min(len(parts), len(self._names)) and parts[keep] == self._names[keep]:
            keep += 1
        self._leave(keep)
        folder = self._open[-1] if self._open else self._root
        for name in parts[keep:]:
            if folder is None:
                return None
            if self._create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=folder)
                    self.made.append((*self._names, name))
            try:
                inner = os.open(name, _FOLDER, dir_fd=folder)
            except FileNotFoundError:
                if self._create:
                    raise
                return None
            except OSError as error:
                raise _failure(error, folder, name, self) from None
            self._names.append(name)
            self._open.append(inner)
            folder = inner
        return folder

    def path(self, name: str) -> Path:
        """*name* in the folder last entered, for messages."""
        return self.root.joinpath(*self._names, name)


def _content(folder: int, name: str, walk: _Walk) -> bytes | None:
    """What the file *name* holds (``None``: no file there; ``b""`` for something else than a file, not read)."""
    try:
        descriptor = os.open(name, _READ, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _failure(error, folder, name, walk) from None
    try:
        found = os.fstat(descriptor)
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(walk.path(name)))
        if not stat.S_ISREG(found.st_mode):
            return b""
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(descriptor)


def _same(content: bytes, text: str, data: bytes) -> bool:
    """Whether *content* holds *text* (*data* encoded) already (read as text: an editor may have saved it with
    ``\r\n``)."""
    if content == data:
        return True
    try:
        return b"\r" in content and content.decode().replace("\r\n", "\n").replace("\r", "\n") == text
    except UnicodeDecodeError:
        return False


def _write(folder: int, name: str, data: bytes, walk: _Walk) -> None:
    """Write the file *name* in *folder*, never through a link (``O_NOFOLLOW``), even one put there meanwhile."""
    try:
        descriptor = os.open(name, _WRITE, 0o644, dir_fd=folder)
    except OSError as error:
        raise _failure(error, folder, name, walk) from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _ours(folder: int, name: str) -> bool:
    """Whether the file *name* starts with :data:`HEADER` (read as text: ``\r\n`` counts as a line break)."""
    try:
        descriptor = os.open(name, _READ, dir_fd=folder)
    except OSError:
        return False  # gone, or a link put there meanwhile: not ours
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        start = os.read(descriptor, len(_HEADER) + 1)
    finally:
        os.close(descriptor)
    return start.startswith((_HEADER, _HEADER[:-1] + b"\r"))


def _prune(
    walk: _Walk, folder: int, prefix: str, tree: Mapping[str, str], deleted: list[Path], *, delete: bool = True
) -> bool:
    """Delete our rendered files below *folder* that *tree* lacks, then the folders left empty, deepest first,
    never following a link; whether *folder* is empty afterwards. Without *delete*, only list them in *deleted*."""
    with os.scandir(folder) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    left = len(entries)
    for entry in entries:
        name, relative = entry.name, f"{prefix}{entry.name}"
        if entry.is_symlink():
            continue  # never through a link: what it leads to is not ours
        if entry.is_dir(follow_symlinks=False):
            try:
                inner = os.open(name, _FOLDER, dir_fd=folder)
            except OSError:
                continue  # gone, or a link put there meanwhile
            try:
                empty = _prune(walk, inner, f"{relative}/", tree, deleted, delete=delete)
            finally:
                os.close(inner)
            if empty and delete:
                with contextlib.suppress(OSError):  # (something came into it meanwhile)
                    os.rmdir(name, dir_fd=folder)
                    left -= 1
        elif (
            name.endswith(".yaml")
            and relative not in tree
            and entry.is_file(follow_symlinks=False)
            and _ours(folder, name)
        ):
            if delete:
                os.unlink(name, dir_fd=folder)
            deleted.append(walk.root / relative)
            left -= 1
    return left == 0


_STAGED = ".{name}.findly-render"
"""Where a file is written before it takes its place: beside it (one file system, so the rename is atomic), hidden,
and not ``.yaml`` (no kustomize or pruning ever reads it as one of the tree's files)."""


def _write_stale(root: Path, folders: Mapping[tuple[str, ...], list[tuple[str, str]]], stale: dict[str, bytes]) -> None:
    """Write the *stale* files (relative path: bytes), making their folders, each entered once — all or nothing:
    each file is first written whole beside its place (:data:`_STAGED`), and only once every one of them is, each is
    renamed into its place (``rename`` replaces a file, or a link put there meanwhile, without following it). A failure
    while writing them (a full disk, a permission) removes what was staged and the folders made for it: the tree on
    disk is as it was."""
    staged: list[tuple[tuple[str, ...], str]] = []
    with _Walk(root, create=True) as walk:
        try:
            for folder in sorted(folders):
                names = [(name, relative) for name, relative in folders[folder] if relative in stale]
                if names and (descriptor := walk.enter(folder)) is not None:
                    for name, relative in names:
                        _stage(descriptor, name, stale[relative], walk)
                        staged.append((folder, name))
        except BaseException:
            _unstage(root, staged, walk.made)
            raise
    with _Walk(root, create=False) as walk:
        for folder, name in staged:
            descriptor = walk.enter(folder)
            if descriptor is not None:
                os.rename(_STAGED.format(name=name), name, src_dir_fd=descriptor, dst_dir_fd=descriptor)


def _stage(folder: int, name: str, data: bytes, walk: _Walk) -> None:
    """Write *data* beside the file *name* (:data:`_STAGED`), with the mode the file has (0644 for a new one)."""
    try:
        mode = stat.S_IMODE(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        mode = 0o644
    except OSError as error:
        raise _failure(error, folder, name, walk) from None
    staged = _STAGED.format(name=name)
    with contextlib.suppress(FileNotFoundError):  # left by a render that was killed
        os.unlink(staged, dir_fd=folder)
    _write(folder, staged, data, walk)
    if mode != 0o644:  # (os.chmod with dir_fd: a staged file is never a link, O_NOFOLLOW made it)
        os.chmod(staged, mode, dir_fd=folder)


def _unstage(root: Path, staged: list[tuple[tuple[str, ...], str]], made: list[tuple[str, ...]]) -> None:
    """Remove the *staged* files and the folders *made* for them (deepest first), never following a link."""
    with _Walk(root, create=False) as walk:
        for folder, name in staged:
            with contextlib.suppress(OSError):
                if (descriptor := walk.enter(folder)) is not None:
                    os.unlink(_STAGED.format(name=name), dir_fd=descriptor)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            root.joinpath(*folder).rmdir()


def _grouped(root: Path, tree: Mapping[str, str]) -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """*tree*'s files by folder (each path checked to stay below *root*): folder names -> (file name, relative)."""
    folders: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for relative in tree:
        parts = _parts(root, relative)
        folders.setdefault(parts[:-1], []).append((parts[-1], relative))
    return folders


def _prune_scopes(
    root: Path, scopes: Iterable[tuple[str, ...]], tree: Mapping[str, str], *, delete: bool
) -> list[Path]:
    """Our rendered files under the *scopes* folders that *tree* lacks: deleted (with *delete*), or only listed."""
    found: list[Path] = []
    with _Walk(root, create=False) as walk:
        for scope in scopes:
            try:
                descriptor = walk.enter(scope)
            except (UnsafeOutputError, OSError):
                continue  # a link (or a file) where the folder would be: what it leads to is not ours
            if descriptor is not None:
                _prune(walk, descriptor, "/".join(scope) + "/", tree, found, delete=delete)
    return found


def write_tree(
    tree: Mapping[str, str], out: str | os.PathLike[str], *, prune: Iterable[str] | None = OWNED
) -> list[Path]:
    """Write *tree* under *out*; delete rendered files of ours under the *prune* folders that the tree lacks.

    Nothing is written or deleted through a symbolic link inside *out*, nor outside it (:class:`UnsafeOutputError`),
    and every path is checked before anything is written. A file that holds its text already is not written again.
    The files are written all or nothing (:func:`_write_stale`): a failure halfway leaves the tree as it was.
    Only files that start with :data:`HEADER` (rendered by us) are ever deleted, and folders left empty by that. Pass
    the folders that *tree* covers whole (``overlays/production`` when only production was rendered), or ``None`` to
    delete nothing. Returns the paths written or deleted (:func:`tree_changes` with ``write=True`` says which was
    which, and what each changed file held).
    """
    root = Path(out)
    changes = _changes(tree, root, prune, write=True, kept=False)
    written = {change.path for change in changes if change.state in ("created", "changed")}
    return [root / relative for relative in tree if relative in written] + [
        root / change.path for change in changes if change.state == "removed"
    ]


@dataclasses.dataclass(frozen=True)
class TreeChange:
    """What writing the tree does to one file below the output folder: ``created`` (*new* is its text), ``changed``
    (*old* is what it held, *new* what it holds), ``unchanged``, ``removed`` (a file of ours, :data:`HEADER` first,
    that the tree no longer has) or ``kept`` (such a file, left where it is because pruning was not asked for).
    *path* is relative to the output folder."""

    path: str
    state: str
    old: str | None = None
    new: str | None = None

    def diff(self, context: int = 2) -> list[str]:
        """The change as a unified diff (``--- a/PATH`` / ``+++ b/PATH``), as ``git diff`` shows a file's."""
        if self.state not in ("created", "changed"):
            return []
        before = (self.old or "").splitlines(keepends=True)
        after = (self.new or "").splitlines(keepends=True)
        source = "/dev/null" if self.state == "created" else f"a/{self.path}"
        target = f"b/{self.path}"
        lines = difflib.unified_diff(before, after, source, target, n=context)
        return [line.rstrip("\n") for line in lines]


def tree_changes(
    tree: Mapping[str, str], out: str | os.PathLike[str], *, prune: Iterable[str] | None = OWNED, write: bool = False
) -> list[TreeChange]:
    """What writing *tree* under *out* does, file by file — with *write*, done as :func:`write_tree` does it (in the
    same one pass); else nothing is written. Each file of the tree is created, changed (with what it held) or
    unchanged; then each file of ours under the *prune* folders that the tree lacks is ``removed`` — or, where
    *prune* is ``None``, each such file under :data:`OWNED` is ``kept``. The same checks as writing (no path through
    a link, none out of *out*)."""
    return _changes(tree, Path(out), prune, write=write, kept=True)


def _changes(
    tree: Mapping[str, str], root: Path, prune: Iterable[str] | None, *, write: bool, kept: bool
) -> list[TreeChange]:
    folders = _grouped(root, tree)
    scopes = [_parts(root, scope) for scope in prune or ()]
    changes: list[TreeChange] = []
    stale: dict[str, bytes] = {}
    with _Walk(root, create=False) as walk:  # every path checked, and compared, before anything is written
        made_root = not walk.found
        for folder in sorted(folders):
            descriptor = walk.enter(folder)
            for name, relative in sorted(folders[folder]):
                text = tree[relative]
                data = text.encode()
                content = None if descriptor is None else _content(descriptor, name, walk)
                if content is None:
                    changes.append(TreeChange(relative, "created", None, text))
                elif _same(content, text, data):
                    changes.append(TreeChange(relative, "unchanged"))
                    continue
                else:
                    old = content.decode(errors="replace").replace("\r\n", "\n")
                    changes.append(TreeChange(relative, "changed", old, text))
                stale[relative] = data
    if write:
        root.mkdir(parents=True, exist_ok=True)
        if stale:
            try:
                _write_stale(root, folders, stale)
            except BaseException:
                if made_root:
                    with contextlib.suppress(OSError):
                        root.rmdir()
                raise
    if prune is not None:
        gone = _prune_scopes(root, scopes, tree, delete=write)
        changes += [TreeChange(path.relative_to(root).as_posix(), "removed") for path in gone]
    elif kept:
        owned = [_parts(root, scope) for scope in OWNED]
        changes += [
            TreeChange(path.relative_to(root).as_posix(), "kept")
            for path in _prune_scopes(root, owned, tree, delete=False)
        ]
    return changes
