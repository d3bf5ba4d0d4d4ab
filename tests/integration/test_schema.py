"""The migrations build exactly the schema the models declare, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models.base import Base
from services.schema import current_revision, head_revision


def test_the_migrated_database_is_at_the_head_revision(container):
    assert current_revision(container.engine) == head_revision()


def test_the_migrations_and_the_models_declare_the_same_schema(container):
    with container.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
