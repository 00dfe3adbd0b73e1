"""Check a composed config against the code it will build, before anything is built.

Every node with a ``_target_`` is checked against its target's signature: each key must be a
parameter (unless the target takes ``**kwargs``) and each value must fit the parameter's type
annotation. The schema is the constructor itself, so a new task or model needs no schema of its own:
its module and its yaml are checked as soon as they exist. Range checks (length >= 1, ...) stay in
the constructors, which raise ``UserError`` naming the value.
"""

from __future__ import annotations

import collections.abc
import inspect
import numbers
import re
import types
import typing
from typing import Any, Iterable, Literal, Union

import torch
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from compare.errors import UserError, fold_lines

#: Keys Hydra's instantiate reads itself.
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})

_INTERPOLATION = re.compile(r"^\$\{([A-Za-z_][\w.]*)\}$")


def check_config(cfg: DictConfig, extra_keys: dict[str, Iterable[str]] | None = None) -> None:
    """Raise a one-line UserError for the first unknown key or mistyped value under any ``_target_`` node.

    ``extra_keys`` maps a node path (e.g. ``"model"``) to keys that configure the run around that
    node rather than its constructor (e.g. ``compile``).
    """
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        raise UserError(f"{getattr(e, 'full_key', '') or 'config'}: {str(e).splitlines()[0]}") from None
    raw = OmegaConf.to_container(cfg, resolve=False)
    _walk(resolved, raw, "", {k: set(v) for k, v in (extra_keys or {}).items()})


def _walk(node: Any, raw: Any, path: str, extra: dict[str, set[str]]) -> None:
    if isinstance(node, dict):
        if "_target_" in node:
            _check_target_node(node, raw if isinstance(raw, dict) else {}, path, extra.get(path, set()))
        for key, value in node.items():
            sub_raw = raw.get(key) if isinstance(raw, dict) else None
            _walk(value, sub_raw, f"{path}.{key}" if path else str(key), extra)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            sub_raw = raw[i] if isinstance(raw, list) and i < len(raw) else None
            _walk(item, sub_raw, f"{path}[{i}]", extra)


def _check_target_node(node: dict, raw: dict, path: str, extra: set[str]) -> None:
    target = node["_target_"]
    where = f"{path}._target_" if path else "_target_"
    try:
        obj = get_object(target)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's target being wrong
        raise UserError(f"{where}={target!r} cannot be imported ({fold_lines(str(e))})") from None
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return  # a builtin without a signature: nothing to check against
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {n: p for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)}
    hints = _type_hints(obj)
    for key, value in node.items():
        if key in HYDRA_KEYS or key in extra:
            continue
        name = _display_name(path, key, raw.get(key))
        if key not in named:
            if takes_any:
                continue
            accepted = ", ".join(sorted(set(named) | extra))
            raise UserError(f"{name} is not a setting of {target}; it accepts: {accepted}")
        if isinstance(value, dict) and "_target_" in value:
            continue  # built by instantiate and checked on its own
        hint = hints.get(key)
        if hint is not None and not matches(value, hint):
            raise UserError(f"{name}={value!r} is not accepted: {target} expects {describe(hint)}")


def _display_name(path: str, key: str, raw_value: Any) -> str:
    """The name a user typed: ``eval.lengths`` rather than the callback key that interpolates it."""
    if isinstance(raw_value, str):
        m = _INTERPOLATION.match(raw_value)
        if m:
            return m.group(1)
    return f"{path}.{key}" if path else key


def _type_hints(obj: Any) -> dict[str, Any]:
    fn = obj.__init__ if isinstance(obj, type) else obj
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: check keys only
        return {}


_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def matches(value: Any, hint: Any) -> bool:
    """Whether a plain config value (None, bool, int, float, str, list, dict) fits a type annotation.

    Annotations this cannot judge from a config value (callables, type variables) accept anything.
    """
    if hint is Any or hint is object or isinstance(hint, (typing.TypeVar, str, typing.ForwardRef)):
        return True
    if hint is None or hint is type(None):
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union or origin is types.UnionType:
        return any(matches(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is typing.Annotated:
        return matches(value, args[0])
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        return not args or all(matches(v, args[0]) for v in value)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        return isinstance(value, dict)
    if isinstance(hint, type):
        if isinstance(value, (hint, dict)):
            return True  # a dict may be a node that instantiate builds
        if isinstance(value, str):
            # Many classes are also given by name ("cpu" for a device); numbers and tensors never are.
            return not issubclass(hint, (numbers.Number, torch.Tensor))
        return False  # a number, bool or list cannot be an instance of some other class
    return True


def _literal_choices(hint: Any) -> list:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return list(args)
    if origin is Union or origin is types.UnionType:
        inner = [_literal_choices(a) for a in args]
        return [c for cs in inner for c in cs] if all(inner) else []
    return []


def describe(hint: Any) -> str:
    """A type annotation in words: ``int``, ``one of 'sdpa', 'explicit'``, ``null or int``."""
    if hint is None or hint is type(None):
        return "null"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union or origin is types.UnionType:
        choices = [c for a in args for c in _literal_choices(a)]
        others = [describe(a) for a in args if not _literal_choices(a)]
        if choices:
            others.insert(0, "one of " + ", ".join(repr(c) for c in choices))
        return " or ".join(dict.fromkeys(others))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if not args:
            return "a list"
        plural = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}
        return f"a list of {plural.get(args[0]) or describe(args[0])}"
    if isinstance(hint, type):
        return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            hint.__name__, hint.__name__)
    return str(hint).replace("typing.", "")
