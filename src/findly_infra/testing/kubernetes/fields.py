"""Server-side apply, as kube-apiserver's structured-merge-diff does it, on plain JSON objects.

A *field set* is a set of paths into an object. A path is a tuple of elements: ``("f", name)`` for a struct field or
a map key, ``("k", ((key, value), ...))`` for an item of a list keyed by ``x-kubernetes-list-map-keys``, ``("v",
value)`` for an item of a set list. Atomic lists and scalars are leaves; a keyed item is itself a member (its ``"."``
in ``fieldsV1``), so that removing it from an apply removes the item.

What each manager owns is kept as a field set (``managedFields``). Applying a configuration by a manager:
conflicts are the fields it sets to a value other than the live one while another manager owns them (refused unless
forced, which moves the ownership); the fields it owned before and no longer sets are removed, unless another
manager owns them too; then the configuration is merged in — maps field by field, keyed lists item by item, atomic
lists and scalars replaced. An update (PUT, a patch) makes its manager own every field it changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from findly_infra.testing.kubernetes.schemas import Schemas

__all__ = [
    "Conflict",
    "Path",
    "apply_configuration",
    "changed_leaves",
    "decode_fields",
    "encode_fields",
    "field_set",
    "json_merge_patch",
    "json_patch",
    "strategic_merge_patch",
]

Element = tuple[str, Any]
Path = tuple[Element, ...]
JSON = Any


class Conflict(Exception):  # noqa: N818 - the API's own word
    """Fields another manager owns, set to another value: ``(manager, dotted path)`` each."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f'conflict with "{manager}": {path}' for manager, path in conflicts))
        self.conflicts = conflicts


def _key(item: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, item.get(name)) for name in keys)


# ---- field sets -------------------------------------------------------------------------------------------------


def field_set(value: JSON, node: Mapping[str, Any] | None, schemas: Schemas, prefix: Path = ()) -> set[Path]:
    """The paths *value* (typed by schema *node*) sets: its leaves and keyed items."""
    found: set[Path] = set()
    node = schemas.resolve(node)
    if isinstance(value, dict):
        if not value and prefix:
            found.add(prefix)
        for name, child in value.items():
            found |= field_set(child, schemas.child(node, name), schemas, (*prefix, ("f", name)))
        return found
    if isinstance(value, list) and node is not None:
        kind = schemas.list_kind(node)
        item_node = schemas.items(node)
        if kind.kind == "map" and all(isinstance(item, dict) for item in value):
            for item in value:
                path = (*prefix, ("k", _key(item, kind.keys)))
                found.add(path)
                found |= field_set(item, item_node, schemas, path)
            return found
        if kind.kind == "set":
            return {(*prefix, ("v", _frozen(item))) for item in value}
    found.add(prefix)
    return found


def _frozen(value: JSON) -> JSON:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _get(value: JSON, path: Path) -> tuple[bool, JSON]:
    """(present, value) at *path* in *value*."""
    current = value
    for kind, part in path:
        if kind == "f":
            if not isinstance(current, dict) or part not in current:
                return False, None
            current = current[part]
        elif kind == "k":
            if not isinstance(current, list):
                return False, None
            matches = [
                item for item in current if isinstance(item, dict) and _key(item, tuple(k for k, _ in part)) == part
            ]
            if not matches:
                return False, None
            current = matches[0]
        else:
            if not isinstance(current, list) or not any(_frozen(item) == part for item in current):
                return False, None
            current = part
    return True, current


def _remove(value: JSON, path: Path) -> None:
    """Remove what *path* names from *value*, in place (nothing when it is not there)."""
    if not path:
        return
    present, parent = _get(value, path[:-1])
    if not present:
        return
    kind, part = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(part, None)
    elif kind == "k" and isinstance(parent, list):
        keys = tuple(k for k, _ in part)
        parent[:] = [item for item in parent if not (isinstance(item, dict) and _key(item, keys) == part)]
    elif kind == "v" and isinstance(parent, list):
        parent[:] = [item for item in parent if _frozen(item) != part]


def dotted(path: Path) -> str:
    """``.spec.template.spec.containers[name="app"].image``, as conflicts are named."""
    text = ""
    for kind, part in path:
        if kind == "f":
            text += f".{part}"
        elif kind == "k":
            text += "[" + ",".join(f"{name}={json.dumps(value)}" for name, value in part) + "]"
        else:
            text += f"[={part}]"
    return text


# ---- apply ------------------------------------------------------------------------------------------------------


def apply_configuration(
    live: JSON,
    applied: JSON,
    manager: str,
    owned: Mapping[str, set[Path]],
    root: Mapping[str, Any],
    *,
    schemas: Schemas,
    force: bool,
    ignored: Iterable[Path] = (),
) -> tuple[JSON, dict[str, set[Path]]]:
    """*applied* by *manager* onto *live*: the merged object, and every manager's field set after it.

    Raises :class:`Conflict` when fields other managers own would change value (and not *force*). Paths under
    *ignored* (``metadata`` bookkeeping, a status the endpoint does not write) take no part."""
    ignore = tuple(ignored)

    def kept(paths: set[Path]) -> set[Path]:
        return {p for p in paths if not any(p[: len(i)] == i for i in ignore)}

    new_set = kept(field_set(applied, root, schemas))
    conflicts: list[tuple[str, str]] = []
    conflicting: list[tuple[str, Path]] = []
    managers = {name: set(paths) for name, paths in owned.items()}
    for other, paths in managers.items():
        if other == manager:
            continue
        for path in sorted(new_set & paths, key=str):
            if path and path[-1][0] == "k":
                continue  # owning an item's existence does not conflict: its fields do
            if _get(applied, path) != _get(live, path):
                conflicts.append((other, dotted(path)))
                conflicting.append((other, path))
    if conflicts and not force:
        raise Conflict(conflicts)
    if force:  # the conflicting fields change hands; fields set to the value they have stay shared
        taken = {(other, path) for other, path in conflicting}
        for other in managers:
            if other != manager:
                managers[other] -= {path for who, path in taken if who == other}
    merged = copy.deepcopy(live)
    previously = managers.get(manager, set())
    others = set().union(*(paths for name, paths in managers.items() if name != manager)) if managers else set()
    for path in sorted(previously - new_set, key=len):  # a keyed item before its fields: it goes whole
        if path in others or any(o[: len(path)] == path for o in others):
            continue  # another manager still owns it (or something under it)
        _remove(merged, path)
    merged = _merge(merged, applied, root, schemas)
    managers[manager] = new_set
    return merged, {name: paths for name, paths in managers.items() if paths}


def _merge(live: JSON, applied: JSON, node: Mapping[str, Any] | None, schemas: Schemas) -> JSON:
    node = schemas.resolve(node)
    if isinstance(live, dict) and isinstance(applied, dict):
        merged = dict(live)
        for name, value in applied.items():
            merged[name] = (
                _merge(live[name], value, schemas.child(node, name), schemas) if name in live else copy.deepcopy(value)
            )
        return merged
    if isinstance(live, list) and isinstance(applied, list) and node is not None:
        kind = schemas.list_kind(node)
        if kind.kind == "map" and all(isinstance(item, dict) for item in live + applied):
            item_node = schemas.items(node)
            by_key = {_key(item, kind.keys): item for item in applied}
            out = []
            for item in live:
                key = _key(item, kind.keys)
                out.append(_merge(item, by_key.pop(key), item_node, schemas) if key in by_key else item)
            out += [copy.deepcopy(item) for item in applied if _key(item, kind.keys) in by_key]
            return out
        if kind.kind == "set":
            seen = {_frozen(item) for item in live}
            return live + [item for item in applied if _frozen(item) not in seen]
    return copy.deepcopy(applied)


def changed_leaves(before: JSON, after: JSON, root: Mapping[str, Any], schemas: Schemas) -> tuple[set[Path], set[Path]]:
    """What an update changed: (paths set to a new value, paths removed)."""
    old, new = field_set(before, root, schemas), field_set(after, root, schemas)
    changed = {path for path in new if _get(before, path) != _get(after, path)}
    return changed, old - new


# ---- managedFields' fieldsV1 ------------------------------------------------------------------------------------


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """A field set as ``fieldsV1``: ``{"f:spec": {"f:replicas": {}}, …}``, keyed items with their ``"."``."""
    tree: dict[str, Any] = {}
    for path in sorted(paths, key=str):
        node = tree
        for index, (kind, part) in enumerate(path):
            if kind == "f":
                name = f"f:{part}"
            elif kind == "k":
                name = "k:" + json.dumps(dict(part), separators=(",", ":"), sort_keys=True)
            else:
                name = "v:" + (part if isinstance(part, str) and part.startswith(("{", "[")) else json.dumps(part))
            node = node.setdefault(name, {})
            if kind == "k" and index == len(path) - 1:
                node.setdefault(".", {})
    return tree


def decode_fields(tree: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    """``fieldsV1`` back to a field set."""
    found: set[Path] = set()
    for name, child in tree.items():
        if name == ".":
            found.add(prefix)
            continue
        kind, _, text = name.partition(":")
        if kind == "f":
            element: Element = ("f", text)
        elif kind == "k":
            element = ("k", tuple(sorted(json.loads(text).items())))
        else:
            loaded = json.loads(text)
            element = ("v", _frozen(loaded))
        path = (*prefix, element)
        found |= decode_fields(child, path) if child else {path}
    return found


# ---- patches ----------------------------------------------------------------------------------------------------


def json_merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = json_merge_patch(result.get(name), value)
    return result


class PatchError(ValueError):
    pass


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(f"a JSON pointer starts with /: {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def json_patch(target: JSON, operations: JSON) -> JSON:  # noqa: PLR0912 - one arm per operation
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    document = copy.deepcopy(target)

    def parent_of(parts: list[str]) -> tuple[Any, str]:
        current = document
        for part in parts[:-1]:
            current = current[int(part)] if isinstance(current, list) else current[part]
        return current, parts[-1]

    def read(parts: list[str]) -> Any:
        current = document
        for part in parts:
            current = current[int(part)] if isinstance(current, list) else current[part]
        return current

    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"not a JSON patch operation: {operation!r}")
        op, parts = operation["op"], _pointer(operation["path"])
        try:
            if op == "test":
                if read(parts) != operation.get("value"):
                    raise PatchError(f"test failed at {operation['path']}")
                continue
            if op in ("move", "copy"):
                value = copy.deepcopy(read(_pointer(operation["from"])))
                if op == "move":
                    source, last = parent_of(_pointer(operation["from"]))
                    del source[int(last) if isinstance(source, list) else last]
                op = "add"
            else:
                value = operation.get("value")
            if not parts:
                document = copy.deepcopy(value) if op != "remove" else None
                continue
            parent, last = parent_of(parts)
            if op == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(value))
                else:
                    parent[last] = copy.deepcopy(value)
            elif op == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif op == "replace":
                index: Any = int(last) if isinstance(parent, list) else last
                if isinstance(parent, dict) and last not in parent:
                    raise PatchError(f"nothing to replace at {operation.get('path')}")
                parent[index] = copy.deepcopy(value)
            else:
                raise PatchError(f"unknown JSON patch operation {op!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(f"cannot {op} at {operation.get('path')}: {exc}") from None
    return document


def strategic_merge_patch(target: JSON, patch: JSON, node: Mapping[str, Any] | None, schemas: Schemas) -> JSON:
    """The built-in kinds' own patch: maps merged (``null`` deletes), lists with a patch merge key merged by it
    (an item ``{"$patch": "delete", key: …}`` removes one), other lists replaced."""
    node = schemas.resolve(node)
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target)
    for name, value in patch.items():
        if name.startswith("$"):
            continue
        if value is None:
            result.pop(name, None)
            continue
        child = schemas.child(node, name)
        if isinstance(value, list) and isinstance(result.get(name), list):
            merge_key = (schemas.resolve(child) or {}).get("x-kubernetes-patch-merge-key")
            if merge_key and (schemas.resolve(child) or {}).get("x-kubernetes-patch-strategy", "").find("merge") >= 0:
                items = list(result[name])
                for item in value:
                    if not isinstance(item, dict):
                        continue
                    same = [
                        i
                        for i, old in enumerate(items)
                        if isinstance(old, dict) and old.get(merge_key) == item.get(merge_key)
                    ]
                    if item.get("$patch") == "delete":
                        items = [old for i, old in enumerate(items) if i not in same]
                    elif same:
                        items[same[0]] = strategic_merge_patch(items[same[0]], item, schemas.items(child), schemas)
                    else:
                        items.append({k: v for k, v in item.items() if not k.startswith("$")})
                result[name] = items
                continue
        result[name] = (
            strategic_merge_patch(result.get(name, {}), value, child, schemas)
            if isinstance(value, dict)
            else copy.deepcopy(value)
        )
    return result
