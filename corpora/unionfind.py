"""Disjoint sets (union-find) over hashable items: records joined by what they share.

Used wherever records are joined transitively: near-duplicate components (`dedup_near`), texts
shared across documents (`split`), candidate groups on Ray (corpora.executors.ray). The root of a
class is an implementation detail; callers that need a canonical name for a class choose it
themselves (e.g. the smallest member).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class UnionFind:
    """Classes of items, joined by `union`; an item first seen by `find` or `union` is its own class."""

    def __init__(self, items: Iterable[Hashable] = ()):
        self.parent: dict[Hashable, Hashable] = {item: item for item in items}

    def __contains__(self, item: Hashable) -> bool:
        return item in self.parent

    def __iter__(self):
        """Every item seen, in the order it was first seen."""
        return iter(self.parent)

    def find(self, item: Hashable) -> Hashable:
        """The root of `item`'s class (path halving keeps later finds short)."""
        parent = self.parent
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, first: Hashable, second: Hashable) -> Hashable:
        """Join the classes of `first` and `second`; the root of `first`'s class becomes the root."""
        root, other = self.find(first), self.find(second)
        if other != root:
            self.parent[other] = root
        return root

    def connected(self, first: Hashable, second: Hashable) -> bool:
        return self.find(first) == self.find(second)

    def classes(self) -> dict[Hashable, list[Hashable]]:
        """{root: members}, members in the order they were first seen, classes in the order of
        their first member."""
        classes: dict[Hashable, list[Hashable]] = {}
        for item in list(self.parent):
            classes.setdefault(self.find(item), []).append(item)
        return classes
