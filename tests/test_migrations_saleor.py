"""The full migration history of a large open-source Django project: Saleor (~1,400 migrations).

Nothing of Saleor is committed here: the test reads a local bare mirror
(fetched separately) at a pinned commit, and skips when there is none (CI).
Set ``HEROKU_TOOLS_SALEOR_MIRROR`` to point at another copy of the repository.
"""
from __future__ import annotations

import collections
import os
import subprocess
import time
from pathlib import Path

import django
import pytest

from heroku_tools.git import Git
from heroku_tools.migrations import Graph, Key, Verdict, classify, pending, read_commit, read_directory

MIRROR = Path(os.environ.get("HEROKU_TOOLS_SALEOR_MIRROR", "/work/.mirror/saleor+saleor/repo"))
COMMIT = "723cd4eba87dfc72822ade45dc08a3caa548428d"  # saleor/saleor main, 2026-08-21
SWAPPABLE = {"AUTH_USER_MODEL": "account.User"}  # saleor/settings.py


def _mirror_has_commit() -> bool:
    if not MIRROR.is_dir():
        return False
    found = subprocess.run(["git", "cat-file", "-e", f"{COMMIT}^{{commit}}"], cwd=MIRROR, capture_output=True, check=False)
    return found.returncode == 0


pytestmark = pytest.mark.skipif(
    not _mirror_has_commit(),
    reason=f"no Saleor mirror with {COMMIT[:10]} at {MIRROR} (fetch github:saleor/saleor, or set HEROKU_TOOLS_SALEOR_MIRROR)",
)


def nested(operations):
    for operation in operations:
        yield operation
        yield from nested(operation.database)
        yield from nested(operation.state)


@pytest.fixture(scope="module")
def saleor():
    started, cpu = time.perf_counter(), time.process_time()
    snapshot = read_commit(Git(cwd=MIRROR), COMMIT, swappable=SWAPPABLE)
    read = time.perf_counter() - started
    graph = Graph(snapshot.migrations)
    judged = classify(graph, graph.order(), swappable=SWAPPABLE, alone=True)
    timing = (read, time.perf_counter() - started, time.process_time() - cpu)
    return snapshot, graph, judged, timing


def test_every_file_parses(saleor):
    snapshot, graph, _, _ = saleor
    assert len(snapshot.migrations) > 1400
    assert [(migration.path, migration.problems) for migration in snapshot.migrations if migration.problems] == []
    assert snapshot.problems == () and graph.problems == []
    assert graph.external == {Key("contenttypes", "0002_remove_content_type_name"), Key("sites", "0002_alter_domain_unique"),
                              Key("django_celery_beat", "0016_alter_crontabschedule_timezone")}


def test_every_operation_is_stock_and_gets_a_verdict(saleor, capsys):
    snapshot, _, judged, (read, total, cpu) = saleor
    operations = [operation for migration in snapshot.migrations for operation in nested(migration.operations)]
    assert [(operation.name, operation.line) for operation in operations if operation.stock is None] == []
    verdicts = [verdict for item in judged for verdict in item.operations]
    assert len(judged) == len(snapshot.migrations) and len(verdicts) > 2800
    assert not [op.judgement.reason for op in verdicts if op.judgement.reason.startswith("not understood")]
    by_operation = collections.Counter(item.verdict.value for item in judged)
    assert set(by_operation) == {verdict.value for verdict in Verdict}
    with capsys.disabled():
        print(f"\nSaleor {COMMIT[:10]}: {len(judged)} migrations, {len(verdicts)} operations; migrations judged alone: "
              f"{dict(by_operation.most_common())}; read {read:.2f}s, read+classify {total:.2f}s ({cpu:.2f}s CPU)")
    assert total < 15, "reading and classifying the whole history stays interactive"


def test_known_verdicts_in_saleors_history(saleor):
    _, _, judged, _ = saleor
    by_key = {str(item.key): item for item in judged}
    assert by_key["account.0101_user_customer_type"].verdict is Verdict.LOCKING  # a nullable foreign key
    assert by_key["account.0102_user_user_customer_type_idx"].verdict is Verdict.COMPATIBLE  # AddIndexConcurrently
    assert by_key["order.0223_add_reason_to_fulfillment_and_fulfillmentline"].verdict is Verdict.INCOMPATIBLE
    assert "only a Python default" in by_key["order.0223_add_reason_to_fulfillment_and_fulfillmentline"].reason
    assert by_key["site.0052_sitesettings_allow_storefront_traffic"].verdict is Verdict.COMPATIBLE  # db_default
    assert by_key["checkout.0008_rename_tables"].verdict is Verdict.INCOMPATIBLE  # AlterModelTable


def test_pending_with_contrib_over_the_whole_graph(saleor):
    snapshot, _, _, _ = saleor
    contrib = read_directory(Path(django.__file__).parent / "contrib")
    everything = [*snapshot.migrations, *contrib.migrations]
    graph = Graph(everything)
    order = graph.order()
    half = order[: len(order) // 2]
    # A database that applied a squash has rows for what it replaces too (Django records both).
    applied = [*half, *(old for key in half for old in graph.migrations[key].replaces)]
    left = pending(everything, applied)
    assert [migration.key for migration in left] == order[len(order) // 2:]
    assert Graph(everything).external == {Key("django_celery_beat", "0016_alter_crontabschedule_timezone")}
