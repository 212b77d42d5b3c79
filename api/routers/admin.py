"""Administration (admin role): users and the audit log of member-level data, as JSON (and CSV).

The admin page of the workspace is built on these routes; ``geo-planner users`` and
``geo-planner audit`` do the same from the command line.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from geo_planner.errors import ConflictError
from geo_planner.store import UserRecord, audit_csv_text, parse_since

from ..account_schemas import (
    AuditLog,
    AuditOut,
    TokenIn,
    TokenInfo,
    TokenIssued,
    TokenList,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from ..deps import Admin, CurrentUser, StoreDep

router = APIRouter(prefix="/admin", tags=["admin"])


def user_out(user: UserRecord) -> UserOut:
    """Shape a user record."""
    return UserOut(username=user.username, display_name=user.display_name, role=user.role,
                   disabled=user.disabled, created=user.created, updated=user.updated)


@router.get("/users", response_model=UserList, summary="List users (admin)")
def list_users(store: StoreDep, role: Admin) -> UserList:
    """Every user, by username (never a password)."""
    return UserList(users=[user_out(u) for u in store.list_users()])


@router.post("/users", response_model=UserOut, status_code=201, summary="Add a user (admin)")
def add_user(body: UserIn, store: StoreDep, role: Admin) -> UserOut:
    """Create a user with a password (at least 10 characters); 409 when the username is taken."""
    return user_out(store.add_user(body.username, body.display_name, body.role, body.password))


@router.patch("/users/{username}", response_model=UserOut, summary="Change a user (admin)")
def change_user(username: str, body: UserPatch, store: StoreDep, role: Admin, me: CurrentUser) -> UserOut:
    """Change the display name or role, disable or enable, or set a new password.

    Disabling, a new role or a new password ends the user's sessions. An admin cannot disable
    their own account or take their own admin role (409): someone must be left to manage users.
    """
    if me.kind == "user" and me.name == username and (body.disabled or (body.role not in (None, "admin"))):
        raise ConflictError("you cannot disable your own account or give up your own admin role")
    return user_out(store.update_user(username, display_name=body.display_name, role=body.role,
                                      disabled=body.disabled, password=body.password))


@router.post("/users/{username}/tokens", response_model=TokenIssued, status_code=201,
             summary="Issue an API token to a user (admin)")
def issue_token(username: str, body: TokenIn, store: StoreDep, role: Admin) -> TokenIssued:
    """A bearer token acting as the user (with their current role), shown once; the store keeps its hash."""
    token = store.issue_token(username, body.name)
    return TokenIssued(username=username, name=body.name, token=token)


@router.get("/users/{username}/tokens", response_model=TokenList, summary="A user's API tokens (admin)")
def list_tokens(username: str, store: StoreDep, role: Admin) -> TokenList:
    """Names and creation times of the user's tokens (never the tokens)."""
    store.get_user(username)
    return TokenList(username=username, tokens=[TokenInfo(**t) for t in store.list_tokens(username)])


@router.get("/audit", response_model=AuditLog, summary="The audit log of member-level data (admin)",
            responses={200: {"content": {"text/csv": {}}}})
def audit_log(
    store: StoreDep,
    role: Admin,
    since: Annotated[str | None, Query(description="from this date or ISO 8601 time on (UTC if no zone)",
                                       examples=["2026-12-01"], max_length=64,
                                       json_schema_extra={"anyOf": [{"type": "string", "format": "date"},
                                                                    {"type": "string",
                                                                     "format": "date-time"}]})] = None,
    limit: Annotated[int | None, Query(ge=1, le=100000, description="only the newest records")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv (UTF-8 with BOM)")] = "json",
) -> AuditLog | Response:
    """Who viewed or exported member-level data: time, user, role, run, what, how many people.

    The log holds no personal data (no name, address, phone or ID number).
    """
    # an empty ``since=`` is not "no since": it is not a date, and is refused like any other (422)
    records = store.audit_log(parse_since(since, "since") if since is not None else None, limit)
    if format == "csv":
        body = "\ufeff" + audit_csv_text(records)
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                                 "Cache-Control": "private, no-store"})
    return AuditLog(records=[AuditOut.model_validate(r, from_attributes=True) for r in records])
