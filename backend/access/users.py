"""Who may sign in and who teaches: users from a CSV file or the STUDIO_USERS environment variable.

Without users the app has one local user and no login. With users, Gradio asks for a name and password, and the
name it signed in is the owner of every job, upload and run: nothing the browser sends can change it.

    users.csv           username,password,role          (role: student or teacher; student when left out)
    STUDIO_USERS        "ana:secret,ben:pw2,ms_lee:pw3:teacher"

A password is either written as is, or hashed with `python -m backend hash-password`
(pbkdf2_sha256$ITERATIONS$SALT$HASH), so the file need not hold a readable password.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from backend.schemas import StudioError

STUDENT, TEACHER = "student", "teacher"
ROLES = (STUDENT, TEACHER)
LOCAL_USER = "local"  # the one user of a server without login
USERS_ENV = "STUDIO_USERS"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # also a folder name: no two names may clash on disk
HASH_PREFIX = "pbkdf2_sha256"
ITERATIONS = 200_000


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: their name (the owner of what they make) and whether they teach."""

    name: str
    teacher: bool = False

    @property
    def scope(self) -> str | None:
        """Whose jobs this person may reach: their own, or everyone's (None) for a teacher."""
        return None if self.teacher else self.name


LOCAL = Viewer(LOCAL_USER)


@dataclass(frozen=True)
class User:
    name: str
    password: str  # as written: plain, or a pbkdf2_sha256 hash
    role: str = STUDENT


class Users:
    """The accounts of a server with login."""

    def __init__(self, users: list[User]):
        self._users = {user.name: user for user in users}

    def __len__(self) -> int:
        return len(self._users)

    def names(self, role: str | None = None) -> list[str]:
        return sorted(name for name, user in self._users.items() if role in (None, user.role))

    def check(self, name: str, password: str) -> bool:
        """Gradio's auth callable: the right password for a known name (compared in constant time)."""
        user = self._users.get(name)
        if user is None:
            verify_password(password, hash_password("x", iterations=1_000))  # a miss takes as long as a wrong password
            return False
        return verify_password(password, user.password)

    def viewer(self, name: str | None) -> Viewer:
        user = self._users.get(name or "")
        if user is None:
            raise StudioError("Sign in first: this server has accounts, and your session has none.")
        return Viewer(user.name, teacher=user.role == TEACHER)


def load_users(path: str | Path | None = None, env: str | None = None) -> Users | None:
    """The accounts from a file and/or the environment; None when there are none (a single local user)."""
    env = os.environ.get(USERS_ENV, "") if env is None else env
    users = parse_users_file(Path(path)) if path else []
    users += parse_users_env(env) if env.strip() else []
    seen: set[str] = set()
    for user in users:
        if user.name in seen:
            raise StudioError(f"The user name {user.name!r} is listed twice; keep one line per person.")
        seen.add(user.name)
    return Users(users) if users else None


def parse_users_file(path: Path) -> list[User]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StudioError(f"The users file {path} could not be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise StudioError(f"The users file {path} is not UTF-8 text; save it as CSV UTF-8.") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"username", "password"} - set(reader.fieldnames or [])
    if missing:
        raise StudioError(f"The users file {path} needs a header row with username,password,role "
                          f"(missing: {', '.join(sorted(missing))}).")
    users = []
    for line, row in enumerate(reader, start=2):
        if not any((value or "").strip() for value in row.values()):
            continue
        users.append(make_user(row.get("username"), row.get("password"), row.get("role"), f"line {line} of {path}"))
    if not users:
        raise StudioError(f"The users file {path} lists nobody; add a line username,password,role per person.")
    return users


def parse_users_env(value: str) -> list[User]:
    users = []
    for number, entry in enumerate(filter(None, (part.strip() for part in value.split(","))), start=1):
        name, _, rest = entry.partition(":")
        password, _, role = rest.rpartition(":") if rest.endswith((":" + STUDENT, ":" + TEACHER)) else (rest, "", "")
        users.append(make_user(name, password, role, f"entry {number} of {USERS_ENV}"))
    return users


def make_user(name: str | None, password: str | None, role: str | None, where: str) -> User:
    name, password, role = (name or "").strip(), (password or "").strip(), (role or "").strip().lower() or STUDENT
    if not NAME.fullmatch(name):
        raise StudioError(f"The user name {name!r} on {where} must be 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit.")
    if not password:
        raise StudioError(f"User {name} on {where} has no password; give every account one.")
    if role not in ROLES:
        raise StudioError(f"User {name} on {where} has role {role!r}; use student or teacher.")
    return User(name, password, role)


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"{HASH_PREFIX}${iterations}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    if not stored.startswith(HASH_PREFIX + "$"):
        return hmac.compare_digest(password.encode(), stored.encode())
    try:
        _, iterations, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
