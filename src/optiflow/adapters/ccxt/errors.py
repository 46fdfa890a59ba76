"""Map ccxt exceptions to our taxonomy (stop / skip / retry), never leaking key material."""

from __future__ import annotations

import ccxt  # type: ignore[import-untyped]

from optiflow.domain.errors import RetryableError, SkipError, StopError

_STOP = (
    ccxt.AuthenticationError,
    ccxt.PermissionDenied,
    ccxt.AccountSuspended,
    ccxt.NotSupported,
    ccxt.BadSymbol,
)
# NetworkError covers RequestTimeout, ExchangeNotAvailable (incl. OnMaintenance), DDoSProtection
# and RateLimitExceeded.
_RETRY = (ccxt.NetworkError,)
_SKIP = (
    ccxt.InsufficientFunds,
    ccxt.InvalidOrder,
    ccxt.OrderNotFound,
    ccxt.BadRequest,
    ccxt.OperationRejected,
    ccxt.OperationFailed,
    ccxt.ExchangeError,
)


class RateLimitedError(RetryableError):
    """The exchange asked us to slow down (429/418); ``retry_after`` seconds when it said."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(SkipError):
    """The exchange refused this order or request; ``reason`` is a short machine code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def parse_retry_after(headers: dict[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (case-insensitive), None when absent or a date."""
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            try:
                return max(0.0, float(v))
            except ValueError:
                return None
    return None


def reject_reason(exc: BaseException) -> str:
    """A short reason code for an exchange rejection."""
    text = str(exc)
    for needle, reason in (
        ("NOTIONAL", "min_notional"),
        ("notional must", "min_notional"),
        ("LOT_SIZE", "lot_size"),
        ("PRICE_FILTER", "price_filter"),
        ("Duplicate order", "duplicate"),
        ("ClientOrderId is duplicated", "duplicate"),
        ("ReduceOnly", "reduce_only"),
    ):
        if needle in text:
            return reason
    if isinstance(exc, ccxt.InsufficientFunds) or "Margin is insufficient" in text:
        return "insufficient_funds"
    if isinstance(exc, ccxt.OrderNotFound):
        return "order_not_found"
    if isinstance(exc, ccxt.InvalidOrder):
        return "invalid_order"
    return "exchange_error"


def map_ccxt_error(
    exc: BaseException,
    *,
    secrets: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Exception:
    """Our error for a ccxt exception (the caller raises it ``from None``)."""
    msg = redact(f"{type(exc).__name__}: {exc}", secrets or [])
    if isinstance(exc, _STOP):
        return StopError(msg)
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return RateLimitedError(msg, parse_retry_after(headers))
    if isinstance(exc, _RETRY):
        return RetryableError(msg)
    if isinstance(exc, _SKIP):
        return RejectedError(msg, reject_reason(exc))
    return RetryableError(msg) if isinstance(exc, TimeoutError | OSError) else StopError(msg)
