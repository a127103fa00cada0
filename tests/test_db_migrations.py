"""Schema migrations: applied once, atomically, even when several processes start together."""
import multiprocessing
import sqlite3
import threading

import pytest

from hub.store import connection as hubdb, migrations


def _open(path):
    hubdb.open_db(path).conn.close()


def test_processes_starting_together_apply_each_migration_once(tmp_path):
    path = str(tmp_path / "civic.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open, args=(path,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    c = sqlite3.connect(path)
    names = [r[0] for r in c.execute("SELECT name FROM _migrations")]
    assert sorted(names) == sorted(n for n, _ in migrations.MIGRATIONS)


def test_a_failing_migration_leaves_nothing_half_applied(tmp_path, monkeypatch):
    path = str(tmp_path / "civic.db")
    hubdb.open_db(path).conn.close()

    def broken(d):
        d.executescript("CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(migrations, "MIGRATIONS",
                        migrations.MIGRATIONS + [("test-999-broken", broken)])
    with pytest.raises(sqlite3.OperationalError):
        hubdb.open_db(path)
    c = sqlite3.connect(path)
    assert not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchone()
    assert not c.execute("SELECT 1 FROM _migrations WHERE name = 'test-999-broken'").fetchone()


def test_processes_creating_a_new_database_together_all_get_in(tmp_path):
    """Two `civic ingest` workers started at once on a new database: switching it to WAL takes
    a lock SQLite does not wait for, and one of them used to stop with "database is locked"."""
    failures = []
    for i in range(40):
        path = str(tmp_path / ("new-%d.db" % i))
        start = threading.Barrier(6)

        def open_it():
            start.wait()
            try:
                hubdb.connect(path).conn.close()
            except Exception as e:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(repr(e))
        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
