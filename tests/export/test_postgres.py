"""`credit export --to sql --dialect postgres` on a real PostgreSQL server: Debian's `postgresql`
binaries (`make test-export` installs the package when missing), a throwaway cluster in a temp
dir, reachable only through a unix socket (no TCP), stopped and deleted at the end.

As root (containers, CI images) the server runs as the `postgres` user, which refuses root."""

from __future__ import annotations

import csv
import io
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from export_helpers import FEATURES, CellsCase, check_cells, compare, export_sql

psycopg = pytest.importorskip("psycopg")


def pg_bindir() -> Path | None:
    """The newest Debian cluster binaries (/usr/lib/postgresql/N/bin), else `initdb` on PATH."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def server_user() -> list[str]:
    """The command prefix that runs the server as a non-root user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run the server as")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A running throwaway server; yields its socket directory."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package `postgresql`)")
    prefix = server_user()
    d = Path(tempfile.mkdtemp(prefix="credit-pg-"))
    if prefix:
        shutil.chown(d, "postgres", "postgres")
    data = d / "data"
    run = lambda *cmd: subprocess.run(
        [*prefix, *map(str, cmd)], check=True, capture_output=True, text=True
    )
    try:
        run(
            bindir / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = f"-k {d} -c listen_addresses='' -F"
        run(
            bindir / "pg_ctl",
            "-D",
            data,
            "-o",
            opts,
            "-l",
            d / "server.log",
            "-w",
            "-t",
            "60",
            "start",
        )
        yield str(d)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(d, ignore_errors=True)


def load(con, rows: list) -> None:
    """The rows into a fresh table `applicants` (quoted mixed-case names, double precision)."""
    cols = ", ".join(f'"{f}" double precision' for f in FEATURES)
    con.execute("DROP TABLE IF EXISTS applicants")
    con.execute(f"CREATE TABLE applicants (id bigint, {cols})")
    buf = io.StringIO()
    w = csv.writer(buf)
    for i, vals in rows:
        w.writerow([i, *("" if v is None else repr(v) for v in vals)])
    names = ", ".join(f'"{f}"' for f in FEATURES)
    with con.cursor().copy(f"COPY applicants (id, {names}) FROM STDIN WITH (FORMAT csv)") as cp:
        cp.write(buf.getvalue())


def run_postgres(socket_dir: str, sql: str, rows: list) -> list[tuple]:
    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as con:
        load(con, rows)
        return con.execute(sql).fetchall()


def test_vectors_equal_credit_score(pg: str, vectors: tuple[list, dict]) -> None:
    rows, cli = vectors
    out = run_postgres(pg, export_sql("postgres", "applicants"), rows)
    c = compare(out, cli)
    assert c.bit_identical == c.scored, c


def test_all_training_rows_equal_credit_score(pg: str, training: tuple[list, dict]) -> None:
    rows, cli = training
    c = compare(run_postgres(pg, export_sql("postgres", "applicants"), rows), cli)
    assert c.rows == len(rows) and c.bit_identical == c.scored, c
    print(f"postgres: {c}")


def test_model_with_16_bins(pg: str, model16: Path, model16_rows: tuple[list, dict]) -> None:
    rows, cli = model16_rows
    compare(run_postgres(pg, export_sql("postgres", "applicants", model=model16), rows), cli)


def test_model_with_cells(pg: str, cells: CellsCase) -> None:
    """A model with interaction cells: every row gives `credit score`'s answer, the probability
    and score bit for bit the core's."""
    c = check_cells(
        run_postgres(pg, export_sql("postgres", "applicants", model=cells.model), cells.rows), cells
    )
    print(f"postgres, cells {cells.name}: {c}")
