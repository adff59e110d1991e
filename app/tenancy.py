"""The one place that keeps every account inside its own walls.

A ``do_orm_execute`` hook adds ``account_id = <current account>`` to every ORM SELECT,
UPDATE and DELETE that touches an account-owned model (``TenantMixin``), including lazy
and eager loads; a ``before_flush`` hook stamps new rows with the current account and
refuses rows of another. Views and APIs never filter by account themselves.

The current scope is decided once per request (``resolve_request_scope``) from the
logged-in user, by session cookie or bearer token:

* a member of an account -> that account;
* the platform operator (FAB's Admin) -> unscoped, it is the only role that sees across;
* anonymous -> ``NO_ACCOUNT``: account-owned rows are invisible (fail closed), except
  the user table, which the login form and sign-up must search platform-wide.

Outside a request (CLI commands, the mail worker, tests driving the workflow) code runs
unscoped unless it enters ``account_scope(account_id)``. The rare query that must see
across accounts on purpose (usernames and e-mails are unique platform-wide) says so with
``.execution_options(skip_tenancy=True)``.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools

from flask import g, has_request_context
from sqlalchemy import event, false
from sqlalchemy.orm import Session, with_loader_criteria

from app.models import Account, Member, TenantMixin

UNSCOPED = "unscoped"
NO_ACCOUNT = "no-account"
_RESOLVING = "resolving"

# Scope set explicitly by code (workers, tests); wins over the request's.
_explicit_scope: contextvars.ContextVar = contextvars.ContextVar("tenant_scope", default=None)


def current_scope():
    explicit = _explicit_scope.get()
    if explicit is not None:
        return explicit
    if has_request_context():
        return g.get("tenant_scope", NO_ACCOUNT)
    return UNSCOPED


def current_account_id() -> int | None:
    scope = current_scope()
    return scope if isinstance(scope, int) else None


def current_account() -> Account | None:
    """The account of the current scope; None for the platform operator or anonymous.
    (The request's user was loaded with its account, so this costs no query.)"""
    from app.extensions import db

    account_id = current_account_id()
    return db.session.get(Account, account_id) if account_id else None


@contextlib.contextmanager
def account_scope(scope):
    """Run a block as one account (an int) or ``UNSCOPED`` (platform-level jobs)."""
    token = _explicit_scope.set(scope)
    try:
        yield
    finally:
        _explicit_scope.reset(token)


@functools.lru_cache(maxsize=4096)
def _criteria_for(scope) -> tuple:
    """The loader criteria of one scope, built once per scope: building them (and
    SQLAlchemy analysing their lambdas) on every statement cost more than running most
    of the page's queries."""
    if scope in (UNSCOPED, _RESOLVING):
        return ()
    if scope == NO_ACCOUNT:
        return (
            with_loader_criteria(TenantMixin, lambda cls: false(), include_aliases=True),
            with_loader_criteria(Account, lambda cls: false(), include_aliases=True),
        )
    account_id = scope
    return (
        with_loader_criteria(
            TenantMixin, lambda cls: cls.account_id == account_id, include_aliases=True
        ),
        with_loader_criteria(Account, lambda cls: cls.id == account_id, include_aliases=True),
        with_loader_criteria(
            Member, lambda cls: cls.account_id == account_id, include_aliases=True
        ),
    )


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_execute(state):
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_tenancy"):
        return
    if state.is_column_load or state.is_relationship_load:
        # Refreshes and lazy/eager loads inherit the criteria from the query that loaded
        # the parent (propagate_to_loaders); adding them again made every load carry
        # one more copy, so a long-lived session slowed down with its size.
        return
    options = _criteria_for(current_scope())
    if options:
        state.statement = state.statement.options(*options)


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session, flush_context, instances):
    scope = current_scope()
    for obj in session.new:
        if isinstance(obj, TenantMixin) or isinstance(obj, Member):
            if isinstance(scope, int):
                if obj.account_id is None:
                    obj.account_id = scope
                elif obj.account_id != scope:
                    raise PermissionError("row of another account")
            elif scope == NO_ACCOUNT and isinstance(obj, TenantMixin) and obj.account_id is None:
                raise PermissionError("anonymous write of an account-owned row")
    if isinstance(scope, int):
        for obj in session.dirty:
            if isinstance(obj, (TenantMixin, Member)) and obj.account_id != scope:
                raise PermissionError("row of another account")


def resolve_request_scope(platform_role: str) -> None:
    """before_request: decide the scope from the session user or the bearer token."""
    from flask_jwt_extended import get_current_user, verify_jwt_in_request
    from flask_login import current_user

    g.tenant_scope = _RESOLVING  # the lookups below see the user table unscoped
    user = None
    if current_user.is_authenticated:
        user = current_user
    else:
        try:
            if verify_jwt_in_request(optional=True):
                user = get_current_user()
        except Exception:  # bad/expired token: the view's own guard answers 401
            user = None
    if user is None or not getattr(user, "is_active", False):
        g.tenant_scope = NO_ACCOUNT
    elif user.account_id is None and any(r.name == platform_role for r in user.roles):
        g.tenant_scope = UNSCOPED
    elif user.account_id is None:
        g.tenant_scope = NO_ACCOUNT
    else:
        g.tenant_scope = user.account_id
