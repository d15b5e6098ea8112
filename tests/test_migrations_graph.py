"""The graph: pending migrations in Django's order, squashes, ``__first__``/``__latest__``, promotions.

Pure units on hand-built :class:`Migration` values; the order is checked
against Django's own executor in tests/test_migrations_contrib.py.
"""
from __future__ import annotations

from heroku_tools.migrations import Graph, Key, Migration, Verdict, pending, plan, promoted, promotion_plan
from heroku_tools.migrations.parse import Operation
from heroku_tools.migrations.values import Call, Ref


def m(app: str, name: str, *deps: str, replaces=(), run_before=(), operations=()) -> Migration:
    """A migration of ``app``; ``deps`` as ``"app.name"`` strings."""
    return Migration(
        app, name, f"{app}/migrations/{name}.py",
        dependencies=tuple(Key(*dep.split(".")) for dep in deps),
        replaces=tuple(Key(*item.split(".")) for item in replaces),
        run_before=tuple(Key(*item.split(".")) for item in run_before),
        operations=tuple(operations),
    )


def keys(items) -> list[str]:
    return [str(getattr(item, "key", item)) for item in items]


LINEAR = [m("a", "0001"), m("a", "0002", "a.0001"), m("a", "0003", "a.0002")]


def test_pending_is_what_is_not_applied_in_dependency_order():
    assert keys(pending(LINEAR, [("a", "0001")])) == ["a.0002", "a.0003"]
    assert keys(pending(reversed(LINEAR), [])) == ["a.0001", "a.0002", "a.0003"]
    assert pending(LINEAR, [("a", "0001"), ("a", "0002"), ("a", "0003")]) == []


def test_first_and_latest_resolve_to_the_apps_ends():
    graph = Graph([*LINEAR, m("b", "0001", "a.__first__"), m("c", "0001", "a.__latest__"), m("d", "0001", "zz.__first__")])
    order = keys(graph.order())
    assert order.index("a.0001") < order.index("b.0001")
    assert order.index("a.0003") < order.index("c.0001")
    assert graph.external == set(), "a __first__ on an app without migrations is ignored, as Django does"


def test_dependencies_on_unread_apps_are_external():
    graph = Graph([m("shop", "0001", "auth.0012_alter_user_first_name_max_length")])
    assert graph.external == {Key("auth", "0012_alter_user_first_name_max_length")}
    assert keys(graph.pending()) == ["shop.0001"]


def test_run_before_puts_a_migration_first():
    graph = Graph([m("a", "0001"), m("b", "0001"), m("a", "0002", "a.0001", run_before=["b.0001"])])
    order = keys(graph.order())
    assert order.index("a.0002") < order.index("b.0001")


def test_order_is_djangos_depth_first_walk_over_sorted_leaves():
    graph = Graph([m("b", "0001", "a.0002"), m("a", "0001"), m("a", "0002", "a.0001"), m("c", "0001")])
    assert keys(graph.order()) == ["a.0001", "a.0002", "b.0001", "c.0001"]


SQUASHED = [
    *LINEAR,
    m("a", "0001_squashed_0002", replaces=["a.0001", "a.0002"]),
    m("b", "0001", "a.0002"),
]


def test_squash_is_used_when_none_of_what_it_replaces_is_applied():
    graph = Graph(SQUASHED, [])
    assert keys(graph.pending()) == ["a.0001_squashed_0002", "a.0003", "b.0001"]
    assert Key("a", "0001_squashed_0002") in graph.parents[Key("b", "0001")], "dependencies move to the squash"


def test_squash_counts_as_applied_when_everything_it_replaces_is():
    graph = Graph(SQUASHED, [("a", "0001"), ("a", "0002")])
    assert keys(graph.pending()) == ["a.0003", "b.0001"]
    assert Key("a", "0001_squashed_0002") in graph.applied


def test_partly_applied_squash_gives_way_to_the_migrations_it_replaces():
    graph = Graph(SQUASHED, [("a", "0001")])
    assert keys(graph.pending()) == ["a.0002", "a.0003", "b.0001"]
    assert Key("a", "0001_squashed_0002") not in graph.migrations


def test_squash_stands_in_for_replaced_files_that_are_gone():
    after_cleanup = [m("a", "0001_squashed_0002", replaces=["a.0001", "a.0002"]), m("a", "0003", "a.0002")]
    graph = Graph(after_cleanup, [])
    assert keys(graph.pending()) == ["a.0001_squashed_0002", "a.0003"]
    assert graph.external == set()
    assert keys(Graph(after_cleanup, [("a", "0001"), ("a", "0002")]).pending()) == ["a.0003"]


def test_partly_applied_squash_with_files_gone_is_a_problem():
    graph = Graph([m("a", "0001_squashed_0002", replaces=["a.0001", "a.0002"])], [("a", "0001")])
    assert any("a.0002" in problem for problem in graph.problems)


def test_cycles_and_duplicates_are_problems_not_hangs():
    graph = Graph([m("a", "0001", "a.0002"), m("a", "0002", "a.0001"), m("a", "0002", "a.0001")])
    graph.order()
    assert any("circle" in problem for problem in graph.problems)
    assert any("defined twice" in problem for problem in graph.problems)


def test_applied_rows_without_files_are_reported():
    graph = Graph(SQUASHED, [("a", "0001"), ("a", "0002"), ("a", "0009_from_newer_code")])
    assert graph.unknown_applied() == [Key("a", "0009_from_newer_code")]


def test_promotion_is_upstream_minus_target_in_upstream_order_with_unknown_files_kept():
    upstream = [("a", "0001"), ("celery", "0001_initial"), ("a", "0002"), ("a", "0003")]
    result = promoted(upstream, [("a", "0001")], LINEAR)
    assert keys(result) == ["celery.0001_initial", "a.0002", "a.0003"]
    assert [item.migration is None for item in result] == [True, False, False]


def test_promotion_counts_a_squash_and_what_it_replaces_once():
    upstream = [("a", "0001"), ("a", "0002"), ("a", "0001_squashed_0002"), ("a", "0003")]
    assert keys(promoted(upstream, [], SQUASHED)) == ["a.0001_squashed_0002", "a.0003"]


RUN_PYTHON = Operation(Call("django.db.migrations.RunPython", (Ref("<file>.forwards", "forwards"),), written="migrations.RunPython"), 9)


def test_plan_and_promotion_plan_carry_verdicts():
    known = [*LINEAR[:2], m("a", "0003", "a.0002", operations=[RUN_PYTHON])]
    result = plan(known, [("a", "0001")])
    assert keys(result.pending) == ["a.0002", "a.0003"]
    assert result.verdict is Verdict.UNKNOWN and str(result.deciding.key) == "a.0003"
    assert result.as_json()["pending"][1]["operation"] == {"class": "migrations.RunPython", "file": "a/migrations/0003.py", "line": 9}
    promotion = promotion_plan(known, [("a", "0001"), ("celery", "0001_initial"), ("a", "0002")], [("a", "0001")])
    assert [(str(item.key), item.verdict) for item in promotion.pending] == [
        ("celery.0001_initial", Verdict.UNKNOWN), ("a.0002", Verdict.COMPATIBLE)]
    assert "operations unknown" in promotion.pending[0].reason
    assert plan(known, [("a", "0001"), ("a", "0002"), ("a", "0003")]).verdict is None
