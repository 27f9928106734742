"""`python -m client`: sign in, look at your tokens and call the API, against `make local` or a deployed stack;
run tenants (platform operators) and their members (tenant admins)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import jwt

import auth_contract
from client.auth import (
    HTTP_TIMEOUT_SECONDS,
    AuthError,
    CognitoAuth,
    Tokens,
    client_credentials,
    login_hosted_ui,
)
from client.cache import TokenCache
from client.endpoints import Endpoints, EndpointsError, load_endpoints

CLIENT_ID_ENV = "JWT_AUTH_CLIENT_ID"
CLIENT_SECRET_ENV = "JWT_AUTH_CLIENT_SECRET"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
REFRESH_MARGIN_SECONDS = 30
EXIT_OK, EXIT_HTTP_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """Something the person must fix; printed without a traceback."""


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, unverified: for display only (the API verifies)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def expires_at(token: str, fallback_seconds: int) -> int:
    return int(claims_of(token).get("exp") or time.time() + fallback_seconds)


def when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Session:
    """The signed-in user's and the machine client's tokens for one stack."""

    def __init__(self, endpoints: Endpoints, cache: TokenCache) -> None:
        self.endpoints = endpoints
        self.cache = cache

    def machine_profile(self, client_id: str) -> str:
        return f"{self.endpoints.issuer_url}#{client_id}"

    def save_user(self, tokens: Tokens, username: str | None) -> dict[str, Any]:
        previous = self.cache.get(self.endpoints.profile) or {}
        entry = {
            "access_token": tokens.access_token,
            "id_token": tokens.id_token or previous.get("id_token"),
            "refresh_token": tokens.refresh_token or previous.get("refresh_token"),
            "expires_at": expires_at(tokens.access_token, tokens.expires_in),
            "username": username or previous.get("username"),
        }
        self.cache.put(self.endpoints.profile, entry)
        return entry

    def user(self) -> dict[str, Any]:
        entry = self.cache.get(self.endpoints.profile)
        if not entry or not entry.get("access_token"):
            raise CliError("not signed in: run `python -m client login <email>` first")
        return entry

    def fresh_user(self) -> dict[str, Any]:
        entry = self.user()
        if entry.get("expires_at", 0) - REFRESH_MARGIN_SECONDS <= time.time() and entry.get("refresh_token"):
            entry = self.refresh()
        return entry

    def refresh(self) -> dict[str, Any]:
        entry = self.user()
        if not entry.get("refresh_token"):
            raise CliError("no refresh token cached: sign in again")
        tokens = CognitoAuth(self.endpoints).refresh(entry["refresh_token"])
        return self.save_user(tokens, entry.get("username"))

    def machine(self, client_id: str) -> dict[str, Any]:
        entry = self.cache.get(self.machine_profile(client_id))
        if not entry or entry.get("expires_at", 0) - REFRESH_MARGIN_SECONDS <= time.time():
            raise CliError("no valid machine token: run `python -m client m2m-token` first")
        return entry


# ---------------------------------------------------------------------- commands


def read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\n")
    return getpass.getpass(f"Password for {args.username}: ")


def cmd_login(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    endpoints = session.endpoints
    if args.hosted_ui:
        resource_server = endpoints.resource_server
        scopes = ["openid", "email", "profile"]
        if resource_server:
            scopes += [auth_contract.qualified_scope(resource_server, scope) for scope in auth_contract.USER_SCOPES]
        print("Opening the hosted UI in your browser...", file=sys.stderr)
        tokens = login_hosted_ui(endpoints, redirect_uri=args.redirect_uri, scopes=scopes)
        username = None
    else:
        if not args.username:
            raise CliError("login needs a username (your email), or --hosted-ui")
        password = read_password(args, stdin)

        def mfa_code() -> str:
            if args.password_stdin:
                return stdin.readline().strip()
            return input("One-time code from your authenticator app: ").strip()

        auth = CognitoAuth(endpoints, mfa_code=mfa_code)
        tokens = (
            auth.login_srp(args.username, password)
            if args.flow == "srp"
            else auth.login_password(args.username, password)
        )
        username = args.username
    entry = session.save_user(tokens, username)
    claims = claims_of(entry["access_token"])
    roles = claims.get(auth_contract.ROLES_CLAIM) or []
    print(
        f"Signed in as {username or claims.get('username')} "
        f"(tenant {claims.get(auth_contract.TENANT_CLAIM, '-')}, roles {' '.join(roles) or '-'}); "
        f"access token valid until {when(entry['expires_at'])}",
        file=out,
    )
    if is_waiting_for_invitation(claims):
        print(waiting_message(claims), file=out)
    return EXIT_OK


def is_waiting_for_invitation(claims: dict[str, Any]) -> bool:
    """Signed in, but no tenant yet (self sign-up, Google, Facebook): the API refuses every call."""
    roles = claims.get(auth_contract.ROLES_CLAIM) or []
    return bool(claims) and not claims.get(auth_contract.TENANT_CLAIM) and auth_contract.PLATFORM_OPERATOR not in roles


def waiting_message(claims: dict[str, Any]) -> str:
    return (
        "Your account is waiting for an invitation: it belongs to no tenant yet, so the API refuses it. "
        f"Ask a tenant admin to add you: python -m client members link <tenant> {claims.get('username', '<your user name>')} "
        "--role viewer"
    )


def sign_in_refusal(error: AuthError) -> str:
    """Cognito wraps the pre-token trigger's refusal ("PreTokenGeneration failed with error <why>.");
    the person needs only the why."""
    text = str(error)
    marker = "PreTokenGeneration failed with error "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(".")
    return text


def cmd_whoami(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    entry = session.user()
    access = claims_of(entry["access_token"])
    identity = claims_of(entry.get("id_token") or "")
    summary = {
        "username": access.get("username"),
        "email": identity.get("email"),
        "sub": access.get("sub"),
        "tenant": access.get(auth_contract.TENANT_CLAIM),
        "roles": access.get(auth_contract.ROLES_CLAIM),
        "groups": access.get(auth_contract.GROUPS_CLAIM),
        "scopes": str(access.get("scope", "")).split(),
        "client_id": access.get("client_id"),
        "issuer": access.get("iss"),
        "access_token_expires": when(int(access.get("exp", 0))),
        "expired": int(access.get("exp", 0)) <= time.time(),
    }
    print(json.dumps(summary, indent=2), file=out)
    return EXIT_OK


def cmd_token(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    entry = session.fresh_user()
    token = entry.get("id_token") if args.id else entry.get("access_token")
    if not token:
        raise CliError("no such token cached")
    print(token, file=out)
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    entry = session.refresh()
    print(f"Refreshed: access token valid until {when(entry['expires_at'])}", file=out)
    return EXIT_OK


def machine_credentials(args: argparse.Namespace, endpoints: Endpoints) -> tuple[str, str]:
    client_id = args.client_id or os.environ.get(CLIENT_ID_ENV) or endpoints.machine_client_id
    secret = args.client_secret or os.environ.get(CLIENT_SECRET_ENV)
    if not client_id or not secret:
        raise CliError(
            f"a machine client id and secret are needed: --client-id/--client-secret or {CLIENT_ID_ENV}/{CLIENT_SECRET_ENV} "
            "(`make local` prints them; for a deployed stack the secret is in the Cognito console)"
        )
    return client_id, secret


def cmd_m2m_token(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    client_id, secret = machine_credentials(args, session.endpoints)
    tokens = client_credentials(session.endpoints, client_id, secret, args.scope or ())
    entry: dict[str, Any] = {
        "access_token": tokens.access_token,
        "expires_at": expires_at(tokens.access_token, tokens.expires_in),
    }
    session.cache.put(session.machine_profile(client_id), entry)
    claims = claims_of(tokens.access_token)
    tenant = claims.get(auth_contract.TENANT_CLAIM) or "none"
    print(
        f"Machine token for {client_id} (tenant {tenant}): scopes {claims.get('scope', '')}; "
        f"valid until {when(entry['expires_at'])}",
        file=out,
    )
    if args.print:
        print(tokens.access_token, file=out)
    return EXIT_OK


def request_body(data: str | None) -> bytes | None:
    if data is None:
        return None
    if data.startswith("@"):
        return Path(data[1:]).read_bytes()
    return data.encode()


def api_request(
    session: Session,
    method: str,
    path: str,
    token: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One call to the API with a bearer token: (status, body)."""
    path = path if path.startswith("/") else "/" + path
    url = session.endpoints.api_url + path
    if not url.startswith(("http://", "https://")):
        raise CliError(f"not an http(s) URL: {url}")
    all_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=body, headers=all_headers, method=method.upper())  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        raise CliError(f"cannot reach {url}: {error}") from None


def cmd_call(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    if args.which == "machine":
        client_id = args.client_id or os.environ.get(CLIENT_ID_ENV) or session.endpoints.machine_client_id or ""
        token = session.machine(client_id)["access_token"]
    else:
        entry = session.fresh_user()
        token = entry.get("id_token") if args.which == "id" else entry["access_token"]
    headers = {}
    for header in args.header or []:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    return send(session, token, args.method, args.path, request_body(args.data), out, headers)


def send(
    session: Session,
    token: str,
    method: str,
    path: str,
    body: bytes | None,
    out: TextIO,
    extra_headers: dict[str, str] | None = None,
) -> int:
    """One API request; prints the status (stderr) and the JSON answer (out); the exit code."""
    status, payload = api_request(session, method, path, token, body, extra_headers)
    return print_answer(status, payload, out, token)


def print_answer(status: int, payload: bytes, out: TextIO, token: str | None = None) -> int:
    print(f"HTTP {status}", file=sys.stderr)
    try:
        print(json.dumps(json.loads(payload), indent=2), file=out)
    except ValueError:
        if payload:
            print(payload.decode("utf-8", "replace"), file=out)
    if token and status == 403 and is_waiting_for_invitation(claims_of(token)):
        print(waiting_message(claims_of(token)), file=sys.stderr)
    return EXIT_OK if status < 400 else EXIT_HTTP_ERROR


def cmd_machine_clients(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    """A tenant's machine clients, as its admin (or a platform operator, with --tenant)."""
    token = session.fresh_user()["access_token"]
    tenant = args.tenant or claims_of(token).get(auth_contract.TENANT_CLAIM)
    if not tenant:
        raise CliError("no tenant: your token has none; name one with --tenant")
    collection = f"/tenants/{urllib.parse.quote(tenant, safe='')}/machine-clients"
    one = f"{collection}/{urllib.parse.quote(getattr(args, 'client_id', '') or '', safe='')}"
    method, path, body = {
        "list": ("GET", collection, None),
        "create": ("POST", collection, json.dumps({"name": getattr(args, "name", "")}).encode()),
        "rotate": ("POST", f"{one}/rotate", None),
        "delete": ("DELETE", one, None),
    }[args.action]
    status, payload = api_request(session, method, path, token, body)
    code = print_answer(status, payload, out, token)
    if code == EXIT_OK and args.action in ("create", "rotate"):
        answer = json.loads(payload)
        print(
            "The secret is shown only this once. To get a token for this client:\n"
            f"  export {CLIENT_ID_ENV}={answer['client_id']}\n"
            f"  export {CLIENT_SECRET_ENV}=<client_secret above>\n"
            "  python -m client m2m-token",
            file=sys.stderr,
        )
    return code


# ---------------------------------------------------------------------- tenants and members


def _segment(value: str, what: str) -> str:
    """A path segment as given: refused if it could change the path."""
    if not value or any(ch in value for ch in "/?#%") or any(ch.isspace() for ch in value):
        raise CliError(f"not a usable {what}: {value!r}")
    return urllib.parse.quote(value, safe="")


def _user_call(session: Session, out: TextIO, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    token = session.fresh_user()["access_token"]
    data = None if body is None else json.dumps(body).encode()
    return send(session, token, method, path, data, out)


def cmd_tenants(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    """Platform operators: create, list, suspend, reinstate tenants."""
    if args.action == "create":
        body = {"tenant": args.tenant, **({"name": args.name} if args.name else {})}
        return _user_call(session, out, "POST", "/tenants", body)
    if args.action == "list":
        query = {"limit": str(args.limit), **({"after": args.after} if args.after else {})}
        return _user_call(session, out, "GET", "/tenants?" + urllib.parse.urlencode(query))
    return _user_call(session, out, "POST", f"/tenants/{_segment(args.tenant, 'tenant')}/{args.action}")


def cmd_members(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    """Tenant admins (their own tenant) and operators (any): a tenant's members."""
    base = f"/tenants/{_segment(args.tenant, 'tenant')}/members"
    if args.action == "list":
        return _user_call(session, out, "GET", base)
    if args.action == "invite":
        return _user_call(session, out, "POST", base, {"email": args.email, "role": args.role})
    if args.action == "link":
        return _user_call(session, out, "POST", base, {"username": args.username, "role": args.role})
    member = f"{base}/{_segment(args.user_id, 'user id')}"
    if args.action == "role":
        return _user_call(session, out, "PUT", member, {"role": args.role})
    if args.action in ("disable", "enable"):
        return _user_call(session, out, "PUT", member, {"enabled": args.action == "enable"})
    return _user_call(session, out, "DELETE", member)


def cmd_operators(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    """Grant or revoke the platform operator role: with AWS credentials, never through the API."""
    from client.operators import OperatorError, grant, revoke

    try:
        if args.action == "grant":
            username = grant(session.endpoints, args.email)
            print(f"{args.email} ({username}) is a platform operator; their next sign-in carries the role", file=out)
        else:
            username = revoke(session.endpoints, args.email)
            print(f"{args.email} ({username}) is no longer a platform operator; signed out everywhere", file=out)
    except OperatorError as error:
        raise CliError(str(error)) from None
    return EXIT_OK


SIGN_OUT_PATH = "/me/sign-out"
SIGN_OUT_EVERYWHERE_PATH = "/me/sign-out-everywhere"


def cmd_logout(args: argparse.Namespace, session: Session, out: TextIO, stdin: TextIO) -> int:
    """Tells the API first (it refuses this session's tokens, or all the user's, at once), then
    revokes the refresh token with Cognito and forgets the cached tokens, whatever the API said."""
    entry = session.cache.get(session.endpoints.profile)
    if not entry or not entry.get("access_token"):
        print("Not signed in: nothing to sign out", file=out)
        return EXIT_OK
    exit_code = EXIT_OK
    try:
        if entry.get("expires_at", 0) - REFRESH_MARGIN_SECONDS <= time.time() and entry.get("refresh_token"):
            entry = session.refresh()  # the same sign-in session: its origin_jti is what gets revoked
        path = SIGN_OUT_EVERYWHERE_PATH if args.everywhere else SIGN_OUT_PATH
        status, _ = api_request(session, "POST", path, entry["access_token"])
    except (CliError, AuthError) as error:
        status, reason = 0, str(error)
    else:
        reason = f"HTTP {status}"
    if 200 <= status < 300:
        what = "every session of this user" if args.everywhere else "this session"
        print(f"API: access and ID tokens of {what} refused from now on", file=out)
    elif status in (401, 403):
        # Already refused (revoked or expired), or a token without API access: nothing the API
        # would accept is left to revoke there.
        print(f"API: nothing to revoke ({reason}: the API already refuses this token)", file=out)
    else:
        exit_code = EXIT_HTTP_ERROR
        print(
            f"warning: the API did not record the sign-out ({reason}): tokens already issued stay valid "
            "until they expire",
            file=sys.stderr,
        )
    if entry.get("refresh_token"):
        try:
            CognitoAuth(session.endpoints).revoke(entry["refresh_token"])
        except AuthError as error:
            exit_code = EXIT_HTTP_ERROR
            print(f"warning: Cognito did not revoke the refresh token: {error}", file=sys.stderr)
    session.cache.delete(session.endpoints.profile)
    print("Signed out: refresh token revoked, cached tokens removed", file=out)
    return exit_code


# ---------------------------------------------------------------------- parser


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m client", description=__doc__)
    root.add_argument(
        "--outputs",
        help="outputs file of `make deploy` or `make local` (default: $JWT_AUTH_OUTPUTS, outputs-local.json)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    login = commands.add_parser("login", help="sign in (SRP by default) and cache the tokens")
    login.add_argument("username", nargs="?", help="your email")
    login.add_argument("--flow", choices=("srp", "password"), default="srp", help="SRP (default) or USER_PASSWORD_AUTH")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    login.add_argument("--hosted-ui", action="store_true", help="sign in in the browser (code flow + PKCE)")
    login.add_argument(
        "--redirect-uri", default=DEFAULT_REDIRECT_URI, help=f"loopback callback URL (default {DEFAULT_REDIRECT_URI})"
    )
    login.set_defaults(run=cmd_login)

    commands.add_parser("whoami", help="who the cached tokens say you are").set_defaults(run=cmd_whoami)

    token = commands.add_parser("token", help="print the access token (refreshed if needed), for curl")
    token.add_argument("--id", action="store_true", help="the ID token instead")
    token.set_defaults(run=cmd_token)

    call = commands.add_parser("call", help="call the API with your access token")
    call.add_argument("method", help="GET, POST, PUT, DELETE, ...")
    call.add_argument("path", help="e.g. /items")
    call.add_argument("--data", help="JSON body, or @file")
    call.add_argument("--header", action="append", help="extra header, 'Name: value' (repeatable)")
    call.add_argument(
        "--token",
        dest="which",
        choices=("access", "id", "machine"),
        default="access",
        help="which cached token to send (default access)",
    )
    call.add_argument("--client-id", help="machine client id, with --token machine")
    call.set_defaults(run=cmd_call)

    commands.add_parser("refresh", help="new access and ID tokens from the refresh token").set_defaults(run=cmd_refresh)

    m2m = commands.add_parser("m2m-token", help="client-credentials token for a machine client")
    m2m.add_argument("--client-id", help=f"default ${CLIENT_ID_ENV}, then the MachineClientId output")
    m2m.add_argument("--client-secret", help=f"default ${CLIENT_SECRET_ENV}")
    m2m.add_argument("--scope", action="append", help="scope to request (repeatable; default: all the client may get)")
    m2m.add_argument("--print", action="store_true", help="also print the token")
    m2m.set_defaults(run=cmd_m2m_token)

    clients = commands.add_parser("machine-clients", help="your tenant's machine clients (tenant admins)")
    actions = clients.add_subparsers(dest="action", required=True)
    for action, description in (
        ("list", "list the tenant's machine clients"),
        ("create", "create one; prints its secret once"),
        ("rotate", "replace a client's secret (same client id); prints the new one once"),
        ("delete", "delete a client; its tokens stop working"),
    ):
        sub = actions.add_parser(action, help=description)
        if action == "create":
            sub.add_argument("name", help="a name for the client: letters, digits, '.', '_', '-'")
        elif action in ("rotate", "delete"):
            sub.add_argument("client_id", help="the machine client's id")
        sub.add_argument("--tenant", help="the tenant (default: yours; platform operators name one)")
        sub.set_defaults(run=cmd_machine_clients)
    logout = commands.add_parser(
        "logout", help="end this session at the API at once, revoke the refresh token, forget the cached tokens"
    )
    logout.add_argument(
        "--everywhere", action="store_true", help="end every session of this user, on every device (global sign-out)"
    )
    logout.set_defaults(run=cmd_logout)

    tenants = commands.add_parser("tenants", help="platform operators: create, list, suspend, reinstate tenants")
    tenant_actions = tenants.add_subparsers(dest="action", required=True)
    create = tenant_actions.add_parser("create", help="a new, active tenant")
    create.add_argument("tenant", help="tenant id: 1-64 letters, digits, '_' or '-'")
    create.add_argument("--name", help="display name (default: the id)")
    listing = tenant_actions.add_parser("list", help="every tenant, a page at a time")
    listing.add_argument("--limit", type=int, default=50, help="tenants per page (1-100, default 50)")
    listing.add_argument("--after", help="the `next` value of the previous page")
    for action, text in (
        ("suspend", "its users get no new tokens and their current ones are refused"),
        ("reinstate", "its users may sign in again"),
    ):
        tenant_actions.add_parser(action, help=text).add_argument("tenant")
    tenants.set_defaults(run=cmd_tenants)

    members = commands.add_parser("members", help="tenant admins and operators: a tenant's members")
    member_actions = members.add_subparsers(dest="action", required=True)
    member_actions.add_parser("list", help="the tenant's members").add_argument("tenant")
    invite = member_actions.add_parser("invite", help="a new user; Cognito emails them a temporary password")
    invite.add_argument("tenant")
    invite.add_argument("email")
    link = member_actions.add_parser(
        "link", help="an existing user with no tenant (Google, Facebook, self sign-up), by user name"
    )
    link.add_argument("tenant")
    link.add_argument("username", help="what `login` printed for them, e.g. google_1234567890")
    for parser_ in (invite, link):
        parser_.add_argument("--role", choices=auth_contract.TENANT_ROLES, default=auth_contract.VIEWER)
    role = member_actions.add_parser("role", help="change a member's role (their older tokens are refused)")
    role.add_argument("tenant")
    role.add_argument("user_id", help="the member's `sub` (members list)")
    role.add_argument("role", choices=auth_contract.TENANT_ROLES)
    for action, text in (
        ("disable", "disable a member's account (no sign-in; their older tokens are refused)"),
        ("enable", "enable a disabled member's account again"),
    ):
        toggle = member_actions.add_parser(action, help=text)
        toggle.add_argument("tenant")
        toggle.add_argument("user_id", help="the member's `sub` (members list)")
    remove = member_actions.add_parser("remove", help="remove a member (invited accounts are deleted)")
    remove.add_argument("tenant")
    remove.add_argument("user_id", help="the member's `sub` (members list)")
    members.set_defaults(run=cmd_members)

    operators = commands.add_parser(
        "operators", help="with AWS admin credentials: grant or revoke the platform operator role (MFA required)"
    )
    operator_actions = operators.add_subparsers(dest="action", required=True)
    operator_actions.add_parser("grant", help="refused unless the user has TOTP MFA set up").add_argument("email")
    operator_actions.add_parser("revoke", help="remove the role and sign the user out everywhere").add_argument("email")
    operators.set_defaults(run=cmd_operators)
    return root


def main(
    argv: list[str] | None = None,
    *,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    cache: TokenCache | None = None,
) -> int:
    args = parser().parse_args(argv)
    out = out or sys.stdout
    try:
        session = Session(load_endpoints(args.outputs), cache or TokenCache())
        status: int = args.run(args, session, out, stdin or sys.stdin)
        return status
    except AuthError as error:
        print(f"error: {sign_in_refusal(error)}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, EndpointsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
