"""GET /items and GET /items/{id}: the caller's tenant's items (route scope items.read)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from shared import items
from shared.api import create_app, current_identity, json_response
from shared.items_table import items_table
from shared.validation import query_integer

logger = Logger()
app = create_app(logger)


@app.get("/items")
def list_items() -> Response[str]:
    params = app.current_event.query_string_parameters
    limit = query_integer(params, "limit", default=items.DEFAULT_PAGE_SIZE, low=1, high=items.MAX_PAGE_SIZE)
    after = (params or {}).get("after")
    return json_response(200, items.list_items(current_identity(app), items_table(), limit=limit, after=after))


@app.get("/items/<item_id>")
def get_item(item_id: str) -> Response[str]:
    return json_response(200, items.get_item(current_identity(app), items_table(), item_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
