"""Alembic environment: the engine is handed over by ``workflow.adapters.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from workflow.adapters.db import make_engine
from workflow.adapters.orm import Base

#: Any constant shared by every instance; names the advisory lock that serialises migrations.
MIGRATION_LOCK = 7_302_915_001

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url or pass an engine"
    engine = make_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several instances may start at once on an empty database (`serve --migrate`): the
            # first one migrates, the others wait here and then find the schema at head.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
    connection.commit()
