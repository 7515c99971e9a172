"""Typed protocol errors; the gateway maps each to one HTTP status at its edge."""

from __future__ import annotations


class WeChatError(Exception):
    """Base of every protocol error."""


class InvalidSignature(WeChatError):
    """signature / msg_signature does not match: forged or misconfigured token."""


class ReplayedRequest(WeChatError):
    """The timestamp lies outside the accepted window."""


class MalformedMessage(WeChatError):
    """Body is not a well-formed, safe WeChat XML message."""


class DecryptError(WeChatError):
    """The AES envelope cannot be opened (bad base64, padding, length or AppId)."""


class APIError(WeChatError):
    """The platform's API answered with a non-zero errcode."""

    TOKEN_ERRORS = frozenset({40001, 40014, 42001})
    WINDOW_ERROR = 45015
    QUOTA_ERROR = 45047

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def token_invalid(self) -> bool:
        return self.errcode in self.TOKEN_ERRORS

    @property
    def permanent(self) -> bool:
        """Retrying cannot help: outside the 48-hour window or over the quota."""
        return self.errcode in (self.WINDOW_ERROR, self.QUOTA_ERROR) or 40000 <= self.errcode < 50000 and not self.token_invalid
