"""`python -m local --env dev`: the environment's stacks on 127.0.0.1, no AWS account, until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

DEFAULT_PORTS = {"api": 8787, "issuer": 8788, "moto": 8789}


def loopback(value: str) -> str:
    """Only loopback: the issuer passes moto's admin API through and nothing here checks AWS credentials."""
    try:
        if ipaddress.ip_address(value).is_loopback:
            return value
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{value!r} is not a loopback address (use 127.0.0.1)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--env", default="dev", help="environment in cdk.json (default: dev)")
    parser.add_argument(
        "--host", default="127.0.0.1", type=loopback, help="loopback address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--api-port", type=int, default=DEFAULT_PORTS["api"], help="HTTP API port (0: any free)")
    parser.add_argument("--issuer-port", type=int, default=DEFAULT_PORTS["issuer"], help="issuer port (0: any free)")
    parser.add_argument("--moto-port", type=int, default=DEFAULT_PORTS["moto"], help="moto port (0: any free)")
    parser.add_argument("--templates", type=Path, help="read the templates from this file instead of synthesizing")
    parser.add_argument(
        "--outputs-file",
        type=Path,
        default=Path("outputs-local.json"),
        help="write the stacks' outputs here, as `cdk deploy --outputs-file` does (default: outputs-local.json)",
    )
    parser.add_argument("--ready-file", type=Path, help="write everything, demo secrets included, here (mode 0600)")
    parser.add_argument(
        "--test-hooks", action="store_true", help="enable POST /_local/clock on the issuer (tests only)"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per API request")
    parser.add_argument("--verbose", action="store_true", help="debug logs of every part")
    return parser.parse_args(argv)


def use_dummy_credentials() -> None:
    """This process talks to moto only: dummy credentials, no profile, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
        }
    )


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def banner(summary: dict, outputs_file: Path | None) -> str:
    outputs = {key: value for stack in summary["outputs"].values() for key, value in stack.items()}
    lines = [
        f"Local stack for environment '{summary['env']}' is up (no AWS account; everything on loopback).",
        "",
        f"  HTTP API        {summary['api_url']}",
        f"  Issuer (iss)    {outputs.get('IssuerUrl', '')}",
        f"  JWKS            {outputs.get('JwksUrl', '')}",
        f"  Token endpoint  {summary['issuer_base_url']}/oauth2/token",
        f"  Cognito API     {summary['issuer_base_url']}  (boto3 / aws cli: --endpoint-url)",
        f"  moto            {summary['moto_url']}  (DynamoDB, and the user directory behind the issuer)",
        f"  SPA client id   {outputs.get('SpaClientId', '')}",
    ]
    if outputs_file:
        lines.append(f"  Outputs file    {outputs_file}  (the client CLI reads it)")
    lines += ["", "Demo users (passwords are new every run):"]
    for user in summary["users"]:
        tenant = user["tenant"] or "(none)"
        lines.append(f"  {tenant:<8} {user['role']:<17} {user['email']:<26} {user['password']}")
    for client in summary["machine_clients"]:
        lines += [
            "",
            f"Machine client {client['name']} ({'tenant ' + client['tenant'] if client.get('tenant') else 'platform, no tenant'}): "
            f"scopes {' '.join(client['scopes'])}",
            f"  export JWT_AUTH_CLIENT_ID={client['client_id']}",
            f"  export JWT_AUTH_CLIENT_SECRET={client['client_secret']}",
        ]
    if summary["users"]:
        first = next((user for user in summary["users"] if user["role"] == "admin"), summary["users"][0])
        client = ".venv/bin/python -m client"
        lines += [
            "",
            "Try it (another terminal):",
            f"  {client} login {first['email']}",
            f"  {client} whoami",
            f"  {client} call GET /items",
            f"  {client} members list {first['tenant']}",
            f"  {client} members invite {first['tenant']} someone@example.com --role editor"
            "   (the invitation email is in this log)",
            "",
        ]
        operator = next((user for user in summary["users"] if user["role"] == "platform_operator"), None)
        if operator is not None:
            lines += [
                "As the platform operator:",
                f"  {client} login {operator['email']}",
                f"  {client} tenants list",
                f"  {client} tenants create initech --name Initech",
                "",
            ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    # Explicit levels: function code may change the root logger's level when it is imported.
    for name in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    logging.getLogger("local.access").setLevel(logging.WARNING if args.quiet else logging.INFO)
    use_dummy_credentials()
    from local.stack import LocalStack
    from local.templates import Assembly, synthesize_in_child

    if args.templates:
        assembly = Assembly.read(args.templates)
    else:
        print(f"synthesizing the {args.env} environment...", file=sys.stderr, flush=True)
        assembly = synthesize_in_child(args.env)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    stack = LocalStack(
        assembly,
        host=args.host,
        api_port=args.api_port,
        issuer_port=args.issuer_port,
        moto_port=args.moto_port,
        test_hooks=args.test_hooks,
    )
    try:
        stack.start()
        summary = stack.summary()
        if args.outputs_file:
            write_private(args.outputs_file, json.dumps(summary["outputs"], indent=2) + "\n")
        if args.ready_file:
            write_private(args.ready_file, json.dumps(summary))
        print(banner(summary, args.outputs_file), flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping...", file=sys.stderr, flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
