"""`civic seed`: exact totals through the ingest's one writer, aggregates equal to raw taps."""
from click.testing import CliRunner

from hub.store import rollups
from hub.cli import cli
from hub.store.connection import open_db


def test_seed_small_city(tmp_path):
    db_path = str(tmp_path / "seed.db")
    res = CliRunner().invoke(cli, ["seed", "--taps", "5000", "--kiosks", "24", "--days", "40",
                                   "--db", db_path])
    assert res.exit_code == 0, res.output
    assert "seeded 5000 taps from 24 kiosks over 40 days" in res.output
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM taps").fetchone()[0] == 5000
    assert db.execute("SELECT count(DISTINCT kiosk) FROM taps").fetchone()[0] == 24
    assert db.execute("SELECT count(*) FROM kiosks WHERE district IS NOT NULL").fetchone()[0] == 24
    assert db.execute("SELECT count(*) FROM districts WHERE population > 0").fetchone()[0] == 12
    assert db.execute("SELECT count(*) FROM seq_gaps").fetchone()[0] == 0  # no seq skipped
    span = db.execute("SELECT (max(ts) - min(ts)) / 86400 FROM taps").fetchone()[0]
    assert 35 <= span <= 40
    assert db.execute("SELECT sum(n) FROM agg_day WHERE scope = '*'").fetchone()[0] == 5000
    before = sorted(db.execute("SELECT * FROM agg_day").fetchall())
    with db.conn:
        rollups.rebuild(db)
    assert sorted(db.execute("SELECT * FROM agg_day").fetchall()) == before
    again = CliRunner().invoke(cli, ["seed", "--taps", "10", "--db", db_path])
    assert again.exit_code == 1 and "already has taps" in again.output
