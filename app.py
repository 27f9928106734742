#!/usr/bin/env python3
"""CDK entry point: builds one environment's stacks (`-c env=dev|prod|test`, default dev)."""

import sys

from stacks.app_builder import build_app
from stacks.config import ConfigError

try:
    app, _ = build_app()
except ConfigError as error:
    sys.exit(f"config error: {error}")
app.synth()
