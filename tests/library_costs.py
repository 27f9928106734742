"""Two set-up costs that botocore and moto pay again in every test, paid once per test process.

1. **botocore's data loader.** moto's `mock_aws()` gives every mocked block a fresh boto3 default
   session (its `reset_boto3_session` setting, on by default, so that credentials and region are
   read again), and every botocore session makes its own `Loader`, which reads and parses the
   service models (`endpoints.json`, `cognito-idp`, `dynamodb`, ...) from disk again: about 70 ms
   per test that creates a client. Here every session shares one loader per data path. The loader
   only reads packaged, read-only JSON and already hands the same parsed objects to every client
   of a session (`botocore.loaders.instance_cache`), so sharing it between sessions changes
   nothing else: credentials, region and the event hooks stay per session, and moto still resets
   the session.
2. **moto's user-pool signing key.** Every `CreateUserPool` in moto imports the same packaged RSA
   key (`moto/cognitoidp/resources/jwks-private.json`) with joserfc, which recovers the key's
   prime factors each time: about 110 ms per pool. The same packaged key is imported once and
   handed to every pool (an imported key is immutable: moto only signs with it).

`share_when_loaded()` runs before each test (the `pytest_runtest_setup` hook in tests/conftest.py). It changes a library only
once that library has been imported, so a run that never touches AWS mocks (the unit tier) does not
import them for this.
"""

from __future__ import annotations

import functools
import sys
import types
from typing import Any

_done: set[str] = set()
MOTO_POOL_KEY = "cognitoidp/resources/jwks-private.json"


def share_when_loaded() -> None:
    if "botocore" not in _done and "botocore.session" in sys.modules:
        _share_botocore_loader()
        _done.add("botocore")
    if "moto" not in _done and "moto" in sys.modules:
        _share_moto_pool_key()
        _done.add("moto")


def _share_botocore_loader() -> None:
    import botocore.session

    # Session.__init__ registers `create_loader(data_path)` as its data_loader component, by this name.
    botocore.session.create_loader = functools.cache(botocore.session.create_loader)


def _share_moto_pool_key() -> None:
    from moto.cognitoidp import models
    from moto.utilities.utils import load_resource

    joserfc_jwk = models.jwk
    packaged = load_resource(MOTO_POOL_KEY)
    key = joserfc_jwk.RSAKey.import_key(packaged)

    def import_key(value: Any, *args: Any, **kwargs: Any) -> Any:
        if value == packaged and not args and not kwargs:
            return key
        return joserfc_jwk.RSAKey.import_key(value, *args, **kwargs)

    # moto's models module reads `jwk.RSAKey.import_key` (moto/cognitoidp/models.py, CognitoIdpUserPool):
    # it gets a stand-in module whose RSAKey.import_key returns the one key for the packaged file.
    rsa_key = types.SimpleNamespace(import_key=import_key)
    shim = types.ModuleType("joserfc.jwk")
    shim.__dict__.update(joserfc_jwk.__dict__)
    shim.RSAKey = rsa_key
    models.jwk = shim
