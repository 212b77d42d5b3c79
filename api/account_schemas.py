"""Pydantic models of the sign-in, user administration and audit routes (``/auth``, ``/admin``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from geo_planner.vocab import ActorKind, AuditWhat, Role

Username = Annotated[str, Field(min_length=1, max_length=64, examples=["zhang.wei"])]
Password = Annotated[str, Field(min_length=1, max_length=1024, description="never echoed nor logged")]
#: A new user's name: ASCII letters, digits and ``_ . @ -`` (a JSON schema's ``\\w`` is ASCII; the
#: store's ``check_username`` reads it as Unicode, so a name the schema allows is one the store takes).
NewUsername = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]{1,64}$",
                                   examples=["zhang.wei"])]
#: Control characters the store refuses in a display name (``check_display_name``).
_CONTROL = r"\u0000-\u001f\u007f"
#: A display name: no control character, something besides white space (the store strips it).
DISPLAY_NAME_PATTERN = (rf"^[^{_CONTROL}]*[^{_CONTROL}\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029"
                        rf"\u202f\u205f\u3000][^{_CONTROL}]*$")
#: What Python's ``str.strip()`` removes (``check_password`` refuses a password it would change).
_STRIPPED = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: A new password: no leading or trailing white space, no line break (``geo_planner.store.check_password``).
NEW_PASSWORD_PATTERN = rf"^[^{_STRIPPED}][^\n]*[^{_STRIPPED}]$"


class _In(BaseModel):
    # strict: a JSON 0 is not ``false`` nor "1" a number (schemathesis ST201: what the schema says is
    # invalid must be rejected)
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    """A username and password."""

    username: Username
    password: Password


class Me(_Out):
    """Who is signed in (a user, or a service token's name)."""

    username: str
    display_name: str
    role: Role
    kind: ActorKind = "user"


class SignedOut(_Out):
    """The session is over and its cookies cleared."""

    signed_out: bool = True


class UserOut(_Out):
    """A user as an admin sees them (never a password or its hash)."""

    username: str
    display_name: str
    role: Role
    disabled: bool
    created: str
    updated: str


class UserList(_Out):
    """Every user."""

    users: list[UserOut]


class UserIn(_In):
    """A new user."""

    username: NewUsername
    display_name: Annotated[str, Field(min_length=1, max_length=100, pattern=DISPLAY_NAME_PATTERN,
                                       examples=["张科长"])]
    role: Role
    password: Annotated[str, Field(min_length=10, max_length=1024, pattern=NEW_PASSWORD_PATTERN,
                                   description="at least 10 characters, no leading or trailing space, "
                                               "no line break")]


class UserPatch(_In):
    """Changes to a user (fields left out keep their value)."""

    display_name: Annotated[str | None, Field(min_length=1, max_length=100, pattern=DISPLAY_NAME_PATTERN)] = None
    role: Role | None = None
    disabled: bool | None = None
    password: Annotated[str | None, Field(min_length=10, max_length=1024, pattern=NEW_PASSWORD_PATTERN,
                                          description="a new password (as for a new user): ends the "
                                                      "user's sessions")] = None


class AuditOut(_Out):
    """One view or export of member-level data (never the data itself)."""

    time: str
    actor: str
    actor_kind: ActorKind
    role: Role
    run_id: str | None
    what: AuditWhat
    n_people: int
    detail: str | None
    client: str | None


class AuditLog(_Out):
    """Audit records, oldest first."""

    records: list[AuditOut]


class TokenIn(_In):
    """What a new API token is for."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$", examples=["etl"])] = "api"


class TokenIssued(_Out):
    """A new API token: shown this once (only its hash is kept)."""

    username: str
    name: str
    token: str


class TokenInfo(_Out):
    """One of a user's tokens (never the token itself)."""

    name: str
    created: str


class TokenList(_Out):
    """A user's tokens."""

    username: str
    tokens: list[TokenInfo]
