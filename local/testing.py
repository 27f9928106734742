"""The local stack in a child process, for end-to-end tests: started once, shared, stopped with Ctrl-C.

A child process keeps the stack's moto state, environment variables and imported Lambda modules
apart from the test process (where other tests use moto's in-process mocks and import the same
handlers with their own settings).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.templates import Assembly

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 15


class LocalStackFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


@dataclass
class RunningStack:
    """A started child process and everything it reported when ready."""

    process: subprocess.Popen
    workdir: Path
    summary: dict[str, Any]

    @property
    def outputs_file(self) -> Path:
        return self.workdir / "outputs.json"

    @property
    def outputs(self) -> dict[str, Any]:
        return {key: value for stack in self.summary["outputs"].values() for key, value in stack.items()}

    @property
    def api_url(self) -> str:
        return self.summary["api_url"]

    @property
    def issuer_base_url(self) -> str:
        return self.summary["issuer_base_url"]

    def user(self, tenant: str, role: str) -> dict[str, str]:
        return next(u for u in self.summary["users"] if u["tenant"] == tenant and u["role"] == role)

    @property
    def operator(self) -> dict[str, str]:
        """The demo platform operator (no tenant)."""
        from auth_contract import PLATFORM_OPERATOR

        return self.user("", PLATFORM_OPERATOR)

    @property
    def machine_client(self) -> dict[str, Any]:
        """The first demo tenant's machine client."""
        return next(client for client in self.summary["machine_clients"] if client.get("tenant"))

    def machine_client_of(self, tenant: str) -> dict[str, Any]:
        return next(client for client in self.summary["machine_clients"] if client.get("tenant") == tenant)

    @property
    def platform_client(self) -> dict[str, Any]:
        """The identity stack's MachineClient: the platform's own, in no tenant."""
        return next(client for client in self.summary["machine_clients"] if not client.get("tenant"))

    def _hook(self, method: str, path: str, payload: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the child's loopback URL
            f"{self.issuer_base_url}{path}",
            data=None if payload is None else json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise LocalStackFailed(f"{path}: HTTP {error.code}: {error.read()[:500]!r}") from None

    def outbox(self, to: str) -> list[dict[str, Any]]:
        """The invitation emails the local Cognito sent to `to`, oldest first."""
        return self._hook("GET", "/_local/outbox?" + urllib.parse.urlencode({"to": to}))["messages"]

    def accept_invitation(self, email: str, new_password: str) -> dict[str, Any]:
        """Signs in with the temporary password of the latest invitation and sets `new_password`,
        as an invited person does on their first sign-in. Returns the AuthenticationResult."""
        temporary = self.outbox(email)[-1]["temporary_password"]
        cognito = self.cognito()
        challenge = cognito.initiate_auth(
            ClientId=self.outputs["SpaClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": temporary},
        )
        if challenge.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
            raise LocalStackFailed(f"an invitation's first sign-in asked for {challenge.get('ChallengeName')}")
        answer = cognito.respond_to_auth_challenge(
            ClientId=self.outputs["SpaClientId"],
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": new_password},
        )
        return answer["AuthenticationResult"]

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        answer = self.cognito().initiate_auth(
            ClientId=self.outputs["SpaClientId"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
        return answer["AuthenticationResult"]

    def federated_sign_in(self, provider: str, subject: str, email: str) -> dict[str, Any]:
        """A first (or later) sign-in through a social or OIDC provider with the SPA client."""
        result = self._hook(
            "POST",
            "/_local/federated-sign-in",
            {"client_id": self.outputs["SpaClientId"], "provider": provider, "subject": subject, "email": email},
        )
        return result["AuthenticationResult"]

    # -------------------------------------------------------------- a client's view, for the tests

    def cognito(self) -> Any:
        """boto3's Cognito client pointed at the local issuer (dummy credentials: moto accepts any)."""
        import boto3

        from local.stack import DUMMY_CREDENTIALS

        return boto3.client(
            "cognito-idp", endpoint_url=self.issuer_base_url, region_name=self.summary["region"], **DUMMY_CREDENTIALS
        )

    def sign_in(self, email: str, password: str) -> dict[str, Any]:
        """USER_PASSWORD_AUTH with the SPA client: AccessToken, IdToken, RefreshToken, ExpiresIn."""
        answer = self.cognito().initiate_auth(
            ClientId=self.outputs["SpaClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        return answer["AuthenticationResult"]

    def machine_token(self, scope: str | None = None, client: dict[str, Any] | None = None) -> str:
        """A client-credentials token of `client` (default: the first tenant's machine client)."""
        answer = self.client_credentials(client or self.machine_client, scope)
        if answer.status != 200:
            raise LocalStackFailed(f"no machine token: {answer.status} {answer.raw!r}")
        return answer.json()["access_token"]

    def client_credentials(self, client: dict[str, Any], scope: str | None = None) -> Response:
        """The token endpoint's answer to a client-credentials request (`client_id`, `client_secret`)."""
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        request = urllib.request.Request(  # noqa: S310 - the child's loopback URL
            f"{self.issuer_base_url}/oauth2/token",
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Basic "
                + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return Response(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request to the local API over HTTP."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        target = urllib.parse.urlsplit(self.api_url)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=15)
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            raw = response.read()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
        finally:
            connection.close()

    def log(self) -> str:
        return (self.workdir / "stack.log").read_text(errors="replace")

    def set_clock_offset(self, seconds: float) -> None:
        """Moves the stack's clock (issuer and gateway) forward by `seconds` from real time."""
        request = urllib.request.Request(  # noqa: S310 - the child's loopback URL
            f"{self.issuer_base_url}/_local/clock",
            data=json.dumps({"offset": seconds}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL of the child
            response.read()

    @contextmanager
    def clock_offset(self, seconds: float) -> Iterator[None]:
        self.set_clock_offset(seconds)
        try:
            yield
        finally:
            self.set_clock_offset(0)

    def stop(self) -> int:
        """Ctrl-C, as a person would; the return code (0 when the stack shut down cleanly)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start(assembly: Assembly, *, workdir: Path | None = None, extra_args: tuple[str, ...] = ()) -> RunningStack:
    """Starts `python -m local` on ephemeral ports with the test hooks on, and waits until it is ready."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="local-stack-"))
    templates = workdir / "templates.json"
    assembly.write(templates)
    ready = workdir / "ready.json"
    command = [
        sys.executable,
        "-m",
        "local",
        "--templates",
        str(templates),
        "--api-port",
        "0",
        "--issuer-port",
        "0",
        "--moto-port",
        "0",
        "--outputs-file",
        str(workdir / "outputs.json"),
        "--ready-file",
        str(ready),
        "--test-hooks",
        *extra_args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(workdir / "stack.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait(5)
            log_text = (workdir / "stack.log").read_text(errors="replace")[-4000:]
            raise LocalStackFailed(f"the local stack did not start (exit {process.returncode}):\n{log_text}")
        time.sleep(0.1)
    time.sleep(0.05)  # the ready file is written in one call; let it land
    return RunningStack(process=process, workdir=workdir, summary=json.loads(ready.read_text()))


_shared: dict[str, Any] = {"stack": None, "users": 0}
_shared_lock = threading.Lock()


@contextmanager
def shared_stack(assembly: Assembly) -> Iterator[RunningStack]:
    """One stack for every test module that asks, stopped when the last one is done."""
    with _shared_lock:
        if _shared["stack"] is None:
            _shared["stack"] = start(assembly)
        _shared["users"] += 1
        stack = _shared["stack"]
    try:
        yield stack
    finally:
        with _shared_lock:
            _shared["users"] -= 1
            if _shared["users"] == 0:
                _shared["stack"] = None
                stack.stop()
