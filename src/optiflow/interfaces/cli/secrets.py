"""API keys from the environment or a 0600 secrets file; never printed, always masked in logs."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from optiflow.adapters.logs import register_secret
from optiflow.domain.errors import UserInputError

ENV_KEY, ENV_SECRET = "OPTIFLOW_API_KEY", "OPTIFLOW_API_SECRET"


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """An exchange key pair (repr never shows them)."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)


def load_keys(secrets_file: Path | None) -> ApiKeys | None:
    """Keys from ``secrets_file`` (JSON, mode 0600) or the environment; None if neither."""
    if secrets_file is not None:
        try:
            mode = secrets_file.stat().st_mode
        except OSError:
            raise UserInputError(f"--secrets {secrets_file}: no such file") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserInputError(
                f"{secrets_file}: readable by others (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {secrets_file}"
            )
        try:
            data = json.loads(secrets_file.read_text())
            keys = ApiKeys(str(data["api_key"]), str(data["secret"]))
        except (ValueError, KeyError, TypeError):
            raise UserInputError(
                f'{secrets_file}: expected JSON with "api_key" and "secret" strings'
            ) from None
    elif os.environ.get(ENV_KEY) and os.environ.get(ENV_SECRET):
        keys = ApiKeys(os.environ[ENV_KEY], os.environ[ENV_SECRET])
    else:
        return None
    register_secret(keys.api_key)
    register_secret(keys.secret)
    return keys


ENV_TELEGRAM = "OPTIFLOW_TELEGRAM_TOKEN"
_TOKEN_RE = re.compile(r"[0-9]{3,15}:[A-Za-z0-9_-]{20,80}")


def _private_json(path: Path) -> dict[str, object]:
    """The JSON object in a secrets file only its owner can read; UserInputError otherwise."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise UserInputError(f"--secrets {path}: no such file") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserInputError(
            f"{path}: readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError):
        raise UserInputError(f"{path}: expected a JSON object") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object")
    return data


def load_telegram_token(secrets_file: Path | None) -> str:
    """The Telegram bot token from ``OPTIFLOW_TELEGRAM_TOKEN`` or ``telegram_token`` in the file.

    The token is registered for masking at once; a missing or malformed one is a
    UserInputError that never shows it.
    """
    token = os.environ.get(ENV_TELEGRAM, "").strip()
    where = ENV_TELEGRAM
    if not token and secrets_file is not None:
        value = _private_json(secrets_file).get("telegram_token")
        token, where = (value.strip() if isinstance(value, str) else ""), f"{secrets_file}"
    if not token:
        raise UserInputError(
            f"telegram.enabled is true but there is no token: set {ENV_TELEGRAM} or put "
            '"telegram_token" in a secrets file (JSON, chmod 600) given with --secrets'
        )
    register_secret(token)
    if not _TOKEN_RE.fullmatch(token):
        raise UserInputError(
            f"{where}: the Telegram token is malformed (expected digits:letters as BotFather "
            "gives it, e.g. 123456:ABC-DEF...)"
        )
    return token
