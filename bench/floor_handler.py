"""The floor for a handler: it only returns the caller's claims as JSON (no routing, no checks, no logs)."""

import json


def lambda_handler(event, context):
    request_context = event.get("requestContext") or {}
    authorizer = request_context.get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("lambda")
    if claims is None:  # a Cognito trigger: the user's attributes
        claims = (event.get("request") or {}).get("userAttributes")
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(claims)}
