"""API keys from the environment or a 0600 secrets file; never printed, always masked in logs."""

from __future__ import annotations

import json
import os
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
