"""Recording an event a machine client posts for a tenant."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import auth_contract
from shared.api import BadRequest, Forbidden
from shared.claims import Identity, is_tenant_id
from shared.items_table import EVENT_PREFIX, ItemsTable
from shared.validation import Field, json_object, text, validate_fields

EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{0,63}")
MAX_DETAIL_BYTES = 8 * 1024
EVENT_FIELDS = (
    Field("type", text(64, pattern=EVENT_TYPE), required=True),
    Field("detail", json_object(MAX_DETAIL_BYTES)),
)


def require_machine(identity: Identity) -> None:
    """Only a client-credentials token with the events scope: a user token never, whatever its scopes."""
    if not identity.is_machine or not identity.has_scope(auth_contract.EVENTS_WRITE):
        raise Forbidden("Forbidden")


def require_tenant(tenant: str | None) -> str:
    if not is_tenant_id(tenant):
        raise BadRequest(f"tenantId: must be {auth_contract.TENANT_ID_RULE}")
    return tenant


def require_own_tenant(identity: Identity, tenant: str) -> None:
    """A machine token speaks for its own tenant only (the `tenant_id` the pre-token trigger put in it);
    a machine token without a tenant (the platform's client, or one minted before V3_0) for none."""
    if identity.tenant is None or identity.tenant != tenant:
        raise Forbidden("Forbidden")


def record_event(identity: Identity, table: ItemsTable, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    require_machine(identity)
    require_tenant(tenant)
    require_own_tenant(identity, tenant)
    fields = validate_fields(body, EVENT_FIELDS)
    now = datetime.now(UTC)
    record = {
        "tenant": tenant,
        "id": f"{EVENT_PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}_{uuid.uuid4().hex[:12]}",
        "type": fields["type"],
        # Stored as JSON text: DynamoDB has no floats, and nothing queries inside it.
        "detail": json.dumps(fields.get("detail", {}), separators=(",", ":"), sort_keys=True),
        "client_id": identity.client_id,
        "received_at": now.isoformat(timespec="seconds"),
    }
    table.create(record)
    return {key: record[key] for key in ("id", "tenant", "type", "client_id", "received_at")}
