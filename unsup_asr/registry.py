"""Explicit name -> (class, config dataclass) registries.

A registry is filled by decorating classes and importing their modules from an explicit list (see
``segmentation/__init__.py``); there is no ``import *`` and no scan of ``globals()``. Registering
also stores the config dataclass in hydra's ConfigStore under ``group`` so that
``segmenter=my_seg segmenter.win=5`` works on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, is_dataclass
from typing import Any, Generic, TypeVar

from hydra.core.config_store import ConfigStore

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered implementation."""

    name: str
    cls: type[T]
    config: type[Any]


class Registry(Generic[T]):
    """Maps names to implementations and their config dataclasses."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, config: type[Any]) -> Callable[[type[T]], type[T]]:
        """Class decorator: register ``cls`` under ``name`` with its config dataclass."""
        if not is_dataclass(config):
            raise TypeError(f"config for {self.group} '{name}' must be a dataclass, got {config!r}")

        def deco(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name].cls is not cls:
                raise ValueError(f"{self.group} '{name}' is already registered by {self._entries[name].cls}")
            self._entries[name] = Entry(name, cls, config)
            ConfigStore.instance().store(group=self.group, name=name, node=config)
            return cls

        return deco

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name``; a clear error lists the known names."""
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.group} '{name}'; known: {sorted(self._entries)}. "
                f"A new {self.group} needs a registration decorator and an import in its package __init__."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
