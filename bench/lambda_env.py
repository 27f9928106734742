"""The environment a handler gets in Lambda, as far as the code reads it (no imports: cold-import
measurements load this before anything else)."""

REGION = "eu-west-1"
RESOURCE_SERVER = "https://api.jwt-auth.bench"
USER_POOL_ID = "eu-west-1_AbCdEfGhI"

HANDLER_ENVIRONMENT = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_LAMBDA_FUNCTION_NAME": "bench-function",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "TABLE_NAME": "bench-items",
    "REVOCATION_TABLE": "bench-revocation",
    "REVOCATION_TTL_SECONDS": "3600",
    "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
    # The tenancy functions' (stacks/api_backends.py) and the pre-token trigger's (stacks/identity_stack.py).
    "TENANTS_TABLE": "bench-tenants",
    "USER_POOL_ID": USER_POOL_ID,
    "MACHINE_ACCESS_TOKEN_MINUTES": "60",
    "FEDERATED_TENANTS": "{}",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
