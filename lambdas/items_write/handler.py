"""POST /items, PUT /items/{id}, DELETE /items/{id} (route scope items.write; roles checked again here)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from shared import items
from shared.api import create_app, current_identity, empty_response, json_response
from shared.items_table import items_table
from shared.validation import read_json_object

logger = Logger()
app = create_app(logger)


@app.post("/items")
def create_item() -> Response[str]:
    identity = current_identity(app)
    items.writer_tenant(identity)  # refuse a caller who may not write before reading the body
    item = items.create_item(identity, items_table(), read_json_object(app.current_event.raw_event))
    logger.info("item created", extra={"item_id": item["id"], "tenant": item["tenant"]})
    return json_response(201, item, headers={"Location": f"/items/{item['id']}"})


@app.put("/items/<item_id>")
def replace_item(item_id: str) -> Response[str]:
    identity = current_identity(app)
    items.writer_tenant(identity)
    items.require_item_id(item_id)
    item = items.replace_item(identity, items_table(), item_id, read_json_object(app.current_event.raw_event))
    logger.info("item replaced", extra={"item_id": item["id"], "tenant": item["tenant"]})
    return json_response(200, item)


@app.delete("/items/<item_id>")
def delete_item(item_id: str) -> Response[str]:
    items.delete_item(current_identity(app), items_table(), item_id)
    logger.info("item deleted", extra={"item_id": item_id})
    return empty_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
