"""Console accounts: creating users, checking passwords with a login rate limit kept in the
database (so it holds across server processes), creditor assignments and the audit log.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile). A
login is refused, without even checking the password, once `max_failures` failures were
recorded for the user name OR for the client address within `window`; a success does not erase
the failures (an attacker who knows one password cannot reset the counter of another name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select

from models.accounts import AuditEntry, LoginFailure, Role, User, UserCreditor
from models.parties import Creditor

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("mot de passe factice")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A user that cannot be created or changed as asked (message in French)."""


class LoginThrottled(Exception):
    """Too many recent failures for this name or this address."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the console sees it. `creditor_ids` is None when the user may see
    every creditor (managers, admins, agents without assignment)."""

    id: int
    name: str
    role: Role
    creditor_ids: frozenset[int] | None

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.MANAGER, Role.ADMIN)


def add_user(session, *, name: str, role: Role | str, password: str, creditors: list[str] = (),
             actor: str, now: datetime) -> int:
    name = name.strip()
    if not name or len(name) > 64:
        raise AccountError("nom d'utilisateur vide ou trop long (64 caractères au plus)")
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError(f"rôle inconnu : {role} (agent, manager ou admin)") from exc
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"mot de passe trop court ({MIN_PASSWORD} caractères au moins)")
    if session.scalar(select(User.id).where(User.name == name)):
        raise AccountError(f"l'utilisateur « {name} » existe déjà")
    creditor_ids = []
    for cname in creditors:
        cid = session.scalar(select(Creditor.id).where(Creditor.name == cname))
        if cid is None:
            raise AccountError(f"créancier inconnu : {cname}")
        creditor_ids.append(cid)
    user = User(name=name, role=role, password_hash=_hasher.hash(password), active=True,
                created_at=now, updated_at=now)
    session.add(user)
    session.flush()
    for cid in creditor_ids:
        session.add(UserCreditor(user_id=user.id, creditor_id=cid))
    audit(session, actor=actor, action="user.add", target=f"user:{user.id}", now=now,
          data={"role": str(role), "creditor_ids": creditor_ids})
    return user.id


def principal_of(session, user_id: int) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    ids = None
    if user.role == Role.AGENT:
        assigned = frozenset(session.scalars(select(UserCreditor.creditor_id).where(UserCreditor.user_id == user.id)))
        ids = assigned or None
    return Principal(user.id, user.name, Role(user.role), ids)


def authenticate(session, *, name: str, password: str, ip: str, now: datetime,
                 max_failures: int = 5, window: timedelta = timedelta(minutes=15)) -> Principal | None:
    """The principal when the password is right; None when it is wrong (the failure is recorded:
    the caller commits). Raises LoginThrottled when the name or the address is locked out."""
    name = name.strip()[:64]
    ip = (ip or "inconnue")[:64]
    since = now - window
    by_name = session.scalar(select(func.count()).select_from(LoginFailure)
                             .where(LoginFailure.name == name, LoginFailure.at > since))
    by_ip = session.scalar(select(func.count()).select_from(LoginFailure)
                           .where(LoginFailure.ip == ip, LoginFailure.at > since))
    if by_name >= max_failures or by_ip >= max_failures:
        log.warning("login throttled (name failures %s, address failures %s)", by_name, by_ip)
        raise LoginThrottled()
    user = session.scalar(select(User).where(User.name == name))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None \
            and user.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        session.add(LoginFailure(name=name, ip=ip, at=now))
        # Old failures are useless once out of every window: keep the table small.
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * window))
        log.info("login failed for user %s", user.id if user else "inconnu")
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit(session, actor=user.name, action="login", target=f"user:{user.id}", now=now)
    return principal_of(session, user.id)


def audit(session, *, actor: str, action: str, now: datetime, target: str | None = None,
          data: dict | None = None) -> None:
    """Append one entry to the audit log; the caller's transaction commits it with the write."""
    session.add(AuditEntry(at=now, actor=actor, action=action, target=target, data=data or {}))


def record_audit(uow_factory, *, actor: str, action: str, now: datetime, target: str | None = None,
                 data: dict | None = None) -> None:
    """The audit entry of a write made by a service that commits on its own (import, campaigns)."""
    with uow_factory() as uow:
        audit(uow.session, actor=actor, action=action, now=now, target=target, data=data)
        uow.commit()


def allowed(principal: Principal, creditor_id: int) -> bool:
    return principal.creditor_ids is None or creditor_id in principal.creditor_ids
