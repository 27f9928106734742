"""App client secrets the way Cognito keeps them since 2025: up to two per client, replaced without a new id.

moto 5.2.5 gives each client one fixed secret and implements none of `AddUserPoolClientSecret`,
`ListUserPoolClientSecrets`, `DeleteUserPoolClientSecret` (botocore 1.44 has them). The local
issuer answers those itself from this store and checks client credentials against the client's
active secrets. Cognito's rules, from the API reference: at most two secrets per client
(`LimitExceededException` for a third), the last one cannot be deleted, a listed secret never
shows its value, and a generated secret's value is returned once, by `AddUserPoolClientSecret`.
"""

from __future__ import annotations

import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.directory import AppClient, DirectoryError

MAX_SECRETS = 2
SECRET_ALPHABET = string.ascii_lowercase + string.digits
SECRET_LENGTH = 51  # like the secrets Cognito generates


@dataclass(frozen=True)
class ClientSecret:
    secret_id: str
    value: str
    created: float

    def descriptor(self, *, with_value: bool) -> dict[str, Any]:
        described: dict[str, Any] = {"ClientSecretId": self.secret_id, "ClientSecretCreateDate": self.created}
        if with_value:
            described["ClientSecretValue"] = self.value
        return described


class ClientSecrets:
    """Per client: moto's original secret until the first change, then this store's list."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._secrets: dict[str, list[ClientSecret]] = {}
        self._lock = threading.Lock()

    def _of(self, client: AppClient) -> list[ClientSecret]:
        if client.secret is None:
            raise DirectoryError("InvalidParameterException", "The app client has no client secret.")
        if client.client_id not in self._secrets:
            created = client.raw.get("CreationDate")
            self._secrets[client.client_id] = [
                ClientSecret(
                    secret_id=f"{client.client_id}--0",
                    value=client.secret,
                    created=created.timestamp() if hasattr(created, "timestamp") else float(created or 0),
                )
            ]
        return self._secrets[client.client_id]

    def active(self, client: AppClient) -> list[str]:
        """The secret values that authenticate the client now (none for a public client)."""
        if client.secret is None:
            return []
        with self._lock:
            return [secret.value for secret in self._of(client)]

    def add(self, client: AppClient, value: str | None = None) -> dict[str, Any]:
        with self._lock:
            current = self._of(client)
            if len(current) >= MAX_SECRETS:
                raise DirectoryError("LimitExceededException", "The app client already has 2 client secrets.")
            generated = value is None
            secret = ClientSecret(
                secret_id=str(uuid.uuid4()),
                value=value or "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH)),
                created=self._now(),
            )
            current.append(secret)
            return secret.descriptor(with_value=generated)

    def list(self, client: AppClient) -> list[dict[str, Any]]:
        with self._lock:
            return [secret.descriptor(with_value=False) for secret in self._of(client)]

    def delete(self, client: AppClient, secret_id: str) -> None:
        with self._lock:
            current = self._of(client)
            if not any(secret.secret_id == secret_id for secret in current):
                raise DirectoryError("ResourceNotFoundException", "The client secret does not exist.")
            if len(current) == 1:
                raise DirectoryError("InvalidParameterException", "You cannot delete the last client secret.")
            self._secrets[client.client_id] = [secret for secret in current if secret.secret_id != secret_id]

    def forget(self, client_id: str) -> None:
        """The client was deleted."""
        with self._lock:
            self._secrets.pop(client_id, None)
