"""Row 4: verifications per second of the Lambda authorizer (RS256, warm JWKS cache) and of the ALB
header verifier (ES256, warm key cache), each against raw `cryptography` verifying the same signature."""

from __future__ import annotations

from bench.common import Measurement, error, module_missing, run_worker, unavailable, verdict

TARGET_RATIO = 0.7
WORKER = "bench.verifier_worker"
TARGET = f">= {TARGET_RATIO}x raw"


def _row(item: str, rate: float, raw: float, note: str, details: dict) -> Measurement:
    ratio = rate / raw
    return Measurement(
        row="verifiers",
        item=item,
        value=round(rate),
        unit="verif/s",
        floor=round(raw),
        ratio=round(ratio, 2),
        target=TARGET,
        status=verdict(ratio >= TARGET_RATIO),
        note=note,
        details=details,
    )


def _breakdown(rates: dict[str, float]) -> str:
    """Per-token microseconds of the parts, from their rates."""

    def us(name: str) -> float:
        return 1e6 / rates[name]

    return (
        f"per token: verify() {us('verify'):.0f} us (header cache empty: {us('verify_header_uncached'):.0f} us)"
        f" = signature {us('raw'):.0f} us + header read {us('header'):.0f} us (jwtcheck/jws.py; skipped when cached)"
        f" + payload, key lookup and claim checks; for reference, one PyJWT decode {us('pyjwt_decode'):.0f} us"
    )


def run() -> list[Measurement]:
    rows: list[Measurement] = []
    missing = module_missing("lambdas/tenant_authorizer/handler.py", "lambdas/tenant_authorizer/verifier.py")
    if missing:
        rows.append(unavailable("verifiers", "Lambda authorizer RS256", missing, TARGET))
    else:
        try:
            result = run_worker(WORKER, "authorizer")
            rates = result["rates"]
            note = f"floor: RSA PKCS1v15 SHA-256 verify of the same signature; {_breakdown(rates)}"
            rows.append(_row("Lambda authorizer RS256: verify()", rates["verify"], rates["raw"], note, result))
            whole = f"whole authorize(event): header, verify, tenant rule, revocation check (cached), log line; still allowed: {result['still_allowed']}"
            rows.append(_row("Lambda authorizer RS256: authorize(event)", rates["authorize"], rates["raw"], whole, {}))
        except Exception as failure:  # noqa: BLE001 (a broken verifier is a row, not a crash)
            rows.append(error("verifiers", "Lambda authorizer RS256", str(failure)))
    missing = module_missing("service/alb_auth.py")
    if missing:
        rows.append(unavailable("verifiers", "ALB header verifier ES256", missing, TARGET))
    else:
        try:
            result = run_worker(WORKER, "alb")
            rates = result["rates"]
            note = f"floor: ECDSA P-256 SHA-256 verify of the same signature (DER); {_breakdown(rates)}"
            rows.append(_row("ALB header verifier ES256: verify()", rates["verify"], rates["raw"], note, result))
        except Exception as failure:  # noqa: BLE001
            rows.append(error("verifiers", "ALB header verifier ES256", str(failure)))
    return rows
