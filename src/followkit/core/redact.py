"""Credentials out of everything followkit prints or stores: URL passwords, API keys, bearer tokens."""

from __future__ import annotations

import os
import re
from typing import Any

SECRET_ENV_VARS = ("FOLLOWKIT_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
"""Environment variables whose values are secrets: their values are masked wherever they appear."""

MASK = "***"

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*)(?::[^/\s@]*)?@")
_BEARER = re.compile(
    r"(?i)\b(bearer\s+|(?:api[_-]?key|access[_-]?token|auth[_-]?token)[\"']?\s*[=:]\s*[\"']?)([A-Za-z0-9._~+/=-]{8,})"
)
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")


def _url_repl(m: re.Match) -> str:
    # user:password@ -> user:***@ ; a bare token@ (no colon) is a credential too -> ***@
    full = m.group(0)
    if ":" in full[len(m.group("scheme")) :]:
        return f"{m.group('scheme')}{m.group('user')}:{MASK}@"
    return f"{m.group('scheme')}{MASK}@"


def redact(text: str) -> str:
    """text with credentials masked: URL userinfo, bearer tokens, sk- keys, secret env values."""
    if not text:
        return text
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6 and value in text:
            text = text.replace(value, MASK)
    if "@" in text:
        text = _URL_USERINFO.sub(_url_repl, text)
    if "sk-" in text:
        text = _OPENAI_KEY.sub(MASK, text)
    low = text.lower()
    if "bearer" in low or "key" in low or "token" in low:
        text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like object with every string (keys too) redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_obj(k): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj
