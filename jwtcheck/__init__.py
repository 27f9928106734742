"""Token checks every verifier shares: claim rules, bounded key fetches and the JWKS cache.

Pure Python on PyJWT and the standard library, with no AWS or CDK dependency: the tenant-path
Lambda authorizer (copied into every Lambda asset, see stacks/lambda_packaging.py), the web app
(copied into its image, see service/Dockerfile) and `make local`'s JWT authorizer import it, so
each rule has one implementation. docs/security.md states the rules.
"""
