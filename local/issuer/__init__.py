"""A Cognito-compatible issuer on loopback: moto's user directory under a faithful token layer.

moto keeps the users, groups and passwords. This layer does what moto does not: Cognito's claim
sets, its own RS256 keys and JWKS per pool, the pool's pre-token-generation trigger on every user
token (and, for a V3_0 trigger, on every client-credentials token), per-client token lifetimes,
app client secrets with Cognito's 2025 rotation API (local/client_secrets.py), allowed auth flows
and SECRET_HASH, SRP, `/oauth2/token`
(client credentials, refresh, authorization code), revocation (`RevokeToken`, `/oauth2/revoke`,
global sign-out) and the hosted-UI authorization endpoint with PKCE.

It speaks Cognito's own protocols, so boto3 (`endpoint_url=<issuer origin>`), the AWS CLI and
OAuth clients work against it unchanged; API operations it does not implement itself (the admin
API: AdminCreateUser, CreateGroup, ...) pass straight through to moto. One is completed on the
way: an AdminCreateUser invitation gets the temporary password Cognito would generate and email;
the "email" lands in the issuer's outbox (logged, and readable at `/_local/outbox` with the test
hooks on).

With the test hooks on, `/_local/federated-sign-in` stands in for a social or OIDC provider's
round trip: it creates the user Cognito creates at a federated user's first sign-in
(`<provider>_<id>` in lower case, the `identities` attribute, no password) and signs them in.

The modules, each importing only those above it:
- `model`: the error shapes (CognitoError, OAuthError), the records kept between requests, the time limits;
- `core`: pool keys and discovery, app client checks, minting tokens (with the trigger), verifying them;
- `cognito_api`: the JSON API operations the issuer answers itself, and the AdminCreateUser invitation;
- `oauth`: `/oauth2/token`, `/oauth2/revoke`, `/oauth2/userInfo`, the authorize checks and code + PKCE;
- `hosted_ui`: the sign-in form and `/logout`; `moto_proxy`: the pass-through to moto;
- `server`: `Issuer` (the API and OAuth together) and the HTTP handler that routes to them.
"""

from local.issuer.model import CognitoError, OAuthError, secret_hash
from local.issuer.server import Issuer, IssuerHandler, issuer_server

__all__ = ["CognitoError", "Issuer", "IssuerHandler", "OAuthError", "issuer_server", "secret_hash"]
