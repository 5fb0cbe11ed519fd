"""The databases of a crash run: a fresh SQLite file or a new PostgreSQL database (dropped after),
and a plain connection that counts what a write left, the service's code not involved."""
from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee

from .report import OUT


class Database:
    """A plain DB-API connection (sqlite3 or psycopg2), not the service's: ``count(query)``
    runs a crash kind's count (a peewee query over the models, compiled for this backend);
    ``rows(sql)`` runs SQL with ``?`` placeholders."""

    def __init__(self, url: str):
        self.url = url
        self.pg = url.startswith("postgres")
        # compiles queries only (never connects): quoting and placeholders of the backend
        self.dialect = peewee.PostgresqlDatabase(None) if self.pg else peewee.SqliteDatabase(None)
        if self.pg:
            import psycopg2

            self.conn = psycopg2.connect(url)
            self.conn.autocommit = True
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30,
                                        isolation_level=None)

    def rows(self, sql: str, params: tuple = ()) -> list:
        if self.pg:
            sql = sql.replace("?", "%s")
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall()
        finally:
            cur.close()

    def value(self, sql: str, params: tuple = ()):
        return self.rows(sql, params)[0][0]

    def count(self, query) -> int:
        """A ``SELECT COUNT(...)`` built with the models, compiled for this backend."""
        sql, params = self.dialect.get_sql_context().sql(query).query()
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchone()[0]
        finally:
            cur.close()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fresh_sqlite(name: str, directory: Path = OUT) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


class PgDatabase:
    """A new empty database on the PostgreSQL server at ``server_url``, dropped on exit."""

    def __init__(self, server_url: str, prefix: str = "crash"):
        self.server_url = server_url
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.url = urlunsplit(urlsplit(server_url)._replace(path="/" + self.name))

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.server_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def __enter__(self) -> str:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc):
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def pg_reachable(url: str) -> bool:
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not there"
        return False
