"""Helpers of the console tests: a small imported portfolio, users and call tasks written as
the planner writes them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from models.enums import CallTaskStatus
from models.outbox import CallTask
from services.accounts import add_user, principal_of
from tests.integration.dispatch.support import NOW, import_cases  # noqa: F401 - re-exported

PASSWORD = "mot-de-passe-solide"


def make_user(container, name: str, role: str = "agent", creditors: list[str] = ()):
    with container.uow() as uow:
        user_id = add_user(uow.session, name=name, role=role, password=PASSWORD, creditors=list(creditors),
                           actor="test", now=NOW)
        uow.commit()
        return principal_of(uow.session, user_id)


def add_task(container, case, *, key: str, priority: int = 0, due_at: datetime = NOW - timedelta(hours=1),
             window_end: datetime | None = NOW + timedelta(hours=3), created_at: datetime = NOW) -> int:
    with container.uow() as uow:
        task = CallTask(idempotency_key=key, dossier_id=case.dossier_id, debtor_id=case.debtor_id,
                        phone_id=case.contacts.get("phone"), kind="scenario", script="call/particulier_relance",
                        priority=priority, due_at=due_at, window_end=window_end, status=CallTaskStatus.OPEN,
                        created_at=created_at, updated_at=created_at)
        uow.session.add(task)
        uow.commit()
        return task.id


def task_row(container, task_id: int) -> CallTask:
    with container.uow() as uow:
        task = uow.session.scalar(select(CallTask).where(CallTask.id == task_id))
        uow.session.expunge(task)
        return task
