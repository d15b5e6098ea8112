"""The migration graph for one database, built as Django's ``MigrationLoader`` builds it.

Given the migrations the code knows and the ``(app, name)`` rows of the
target's ``django_migrations``, :class:`Graph` says what ``manage.py
migrate`` will apply and in which order (Django's own: each leaf in key
order, its ancestors depth first), with squashed-migration semantics:

* a squash counts as applied when everything it replaces is; it is used
  instead of the migrations it replaces when all or none of them are applied;
* when only some are applied, the squash is not used and the unapplied
  replaced migrations are pending, as Django does (#25945).

A dependency on a migration the code does not know (a third-party app whose
files were not read) is left out of the order and listed in :attr:`Graph.external`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .parse import Key, Migration


class Graph:
    """The migrations in play for a database whose applied rows are ``applied``."""

    def __init__(self, migrations: Iterable[Migration], applied: Iterable[tuple[str, str]] = ()):
        self.migrations: dict[Key, Migration] = {}
        self.problems: list[str] = []
        for migration in migrations:
            if migration.key in self.migrations:
                self.problems.append(f"{migration.key} is defined twice: {self.migrations[migration.key].path} and {migration.path}")
            self.migrations.setdefault(migration.key, migration)
        self.recorded = frozenset(Key(*key) for key in applied)
        self.parents: dict[Key, set[Key]] = {key: set() for key in self.migrations}
        self.children: dict[Key, set[Key]] = {key: set() for key in self.migrations}
        #: Missing parents and the migrations that depend on them (a squash may stand in for them).
        self._missing: dict[Key, set[Key]] = {}
        self._add_dependencies()
        self.applied = self._replace(set(self.recorded))
        self._order: list[Key] | None = None

    # -- building -----------------------------------------------------------
    @property
    def external(self) -> set[Key]:
        """Migrations depended on that the graph has no file for (a third-party app's, not read)."""
        return set(self._missing)

    def _link(self, child: Key, parent: Key) -> None:
        if parent not in self.parents:
            self._missing.setdefault(parent, set()).add(child)
            return
        self.parents[child].add(parent)
        self.children[parent].add(child)

    def _add_dependencies(self) -> None:
        """Internal dependencies first, so ``__first__``/``__latest__`` find each app's ends (as Django)."""
        for key, migration in self.migrations.items():
            for parent in migration.dependencies:
                if parent.app == key.app and parent.name != "__first__":
                    self._link(key, parent)
        for key, migration in self.migrations.items():
            for parent in migration.dependencies:
                if parent.app != key.app and (resolved := self._resolve(parent)):
                    self._link(key, resolved)
            for child in migration.run_before:
                if (resolved := self._resolve(child)) in self.parents:
                    self._link(resolved, key)

    def _resolve(self, key: Key) -> Key | None:
        """``__first__``/``__latest__`` as the app's root/leaf; ``None`` for an app with no known migrations."""
        if key.name not in ("__first__", "__latest__") or key in self.parents:
            return key
        ends = self._app_ends(key.app, roots=key.name == "__first__")
        return ends[0] if ends else None

    def _app_ends(self, app: str, *, roots: bool) -> list[Key]:
        links = self.parents if roots else self.children
        return sorted(key for key in self.parents if key.app == app and all(other.app != app for other in links[key]))

    def _replace(self, applied: set[Key]) -> frozenset[Key]:
        for key, migration in list(self.migrations.items()):
            if not migration.replaces:
                continue
            statuses = [replaced in applied for replaced in migration.replaces]
            if all(statuses):
                applied.add(key)
            else:
                applied.discard(key)
            if all(statuses) or not any(statuses):
                self._remove_replaced(key, migration.replaces)
            else:
                self._remove_replacement(key, migration.replaces)
        return frozenset(applied)

    def _remove_replaced(self, squash: Key, replaced: Sequence[Key]) -> None:
        """Use the squash: its replaced migrations leave the graph, their links move to it.

        That includes links to replaced migrations whose files are gone (the
        usual state of a project some time after squashing).
        """
        replaced_set = set(replaced)
        for old in replaced_set:
            for child in self._missing.pop(old, ()):
                if child not in replaced_set:
                    self._link(child, squash)
        for old in replaced_set & self.parents.keys():
            for child in self.children.pop(old):
                self.parents[child].discard(old)
                if child not in replaced_set:
                    self._link(child, squash)
            for parent in self.parents.pop(old):
                self.children[parent].discard(old)
                if parent not in replaced_set:
                    self._link(squash, parent)
            del self.migrations[old]

    def _remove_replacement(self, squash: Key, replaced: Sequence[Key]) -> None:
        """Partly applied: drop the squash; what depended on it depends on the last replaced migrations."""
        present = {old for old in replaced if old in self.parents}
        missing = [str(old) for old in replaced if old not in self.parents]
        if missing:
            self.problems.append(f"{squash} is partly applied and replaces migrations whose files are gone: {', '.join(missing)}")
        latest = present - set().union(*(self.parents[old] for old in present))
        for child in self.children.pop(squash):
            self.parents[child].discard(squash)
            for old in latest:
                self._link(child, old)
        for parent in self.parents.pop(squash):
            self.children[parent].discard(squash)
        del self.migrations[squash]

    # -- reading ------------------------------------------------------------
    def order(self) -> list[Key]:
        """Every migration in the order ``migrate`` (no arguments) would apply them on an empty database.

        Migrations no leaf leads to (only in a dependency circle, which Django
        refuses) come last, so none is silently dropped.
        """
        if self._order is None:
            self._order = []
            seen: set[Key] = set()
            for start in [*self.leaves(), *sorted(self.parents)]:
                self._order += self._ancestry(start, seen)
        return list(self._order)

    def leaves(self) -> list[Key]:
        """Each app's latest migrations (``migrate``'s targets), in key order."""
        return sorted(key for key in self.parents if all(other.app != key.app for other in self.children[key]))

    def _ancestry(self, start: Key, seen: set[Key]) -> list[Key]:
        """Django's iterative depth-first walk: ancestors before descendants, larger parent keys first."""
        found = []
        stack = [(start, False)]
        on_path: set[Key] = set()
        while stack:
            key, processed = stack.pop()
            if key in seen:
                continue
            if processed:
                seen.add(key)
                on_path.discard(key)
                found.append(key)
                continue
            if key in on_path:
                self.problems.append(f"the migrations around {key} depend on each other in a circle")
                continue
            on_path.add(key)
            stack.append((key, True))
            stack += [(parent, False) for parent in sorted(self.parents[key])]
        return found

    def pending(self) -> list[Migration]:
        """The migrations ``migrate`` will apply on this database, in order."""
        return [self.migrations[key] for key in self.order() if key not in self.applied]

    def unknown_applied(self) -> list[Key]:
        """Rows of ``django_migrations`` the code has no file for (a rollback's newer migrations, say)."""
        replaced = {old for migration in self.migrations.values() for old in migration.replaces}
        return sorted(key for key in self.recorded if key not in self.migrations and key not in replaced)


def pending(migrations: Iterable[Migration], applied: Iterable[tuple[str, str]]) -> list[Migration]:
    """What ``migrate`` will apply on a database with these ``django_migrations`` rows, in order."""
    return Graph(migrations, applied).pending()


@dataclass(frozen=True)
class Promoted:
    """A migration the promoted slug will apply: applied upstream, not on the target.

    ``migration`` is ``None`` when its file is not known here (a third-party
    app's, not read): pending, operations unknown.
    """

    key: Key
    migration: Migration | None


def promoted(
    upstream_applied: Sequence[tuple[str, str]],
    target_applied: Iterable[tuple[str, str]],
    migrations: Iterable[Migration] = (),
) -> list[Promoted]:
    """What a pipeline promotion will migrate: applied upstream (uat), not on the target (live).

    ``upstream_applied`` in ``django_migrations.id`` order is the order uat
    applied them, which the target will follow; migrations the code knows are
    put in the graph's order (dependencies first), the others keep their
    place after the known ones they followed upstream. A squash and the
    migrations it replaces, all new to the target, count once, as the squash.
    """
    target = {Key(*key) for key in target_applied}
    known = {migration.key: migration for migration in migrations}
    new = [Key(*key) for key in dict.fromkeys(upstream_applied) if Key(*key) not in target]
    squashed = {old for key in new if key in known for old in known[key].replaces if set(known[key].replaces) <= set(new)}
    new = [key for key in new if key not in squashed]
    graph_index = {key: index for index, key in enumerate(Graph(known.values(), target).order())}
    ordered_known = sorted((key for key in new if key in graph_index), key=graph_index.__getitem__)
    slots = iter(ordered_known)
    result = [next(slots) if key in graph_index else key for key in new]
    return [Promoted(key, known.get(key)) for key in result]
