"""Runs the project's Lambda functions in-process, each with its template's handler and environment.

A function is found by the `Handler` string of its `AWS::Lambda::Function` resource
(`items.handler.lambda_handler` → `lambdas/items/handler.py`), imported once with its own
environment variables set (as Lambda's init phase does), and invoked with a real-shaped context.
Invocations are serialized: the environment variables of one function are in `os.environ` only
while its code runs. Functions share one interpreter, so module-level state in `lambdas/shared`
is shared between them (on AWS each function has its own copy).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?")

logger = logging.getLogger(__name__)


class FunctionError(Exception):
    """The function raised (Lambda reports `Unhandled`); the caller decides what the client sees.

    `error_type` and `error_message` are what Lambda reports as `errorType` and `errorMessage`.
    """

    def __init__(self, function: str, error: Exception) -> None:
        super().__init__(f"{function}: {type(error).__name__}")
        self.error_type = type(error).__name__
        self.error_message = str(error)


class UnknownFunction(LookupError):
    pass


@dataclass
class LocalFunction:
    """One `AWS::Lambda::Function` of a template, resolved to local values."""

    logical_id: str
    stack_name: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 3
    memory_mb: int = 128
    _entry: Callable[[Any, Any], Any] | None = None


class LambdaContext:
    """The `context` object the Lambda Python runtime passes to handlers."""

    def __init__(self, function: LocalFunction) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaRuntime:
    """The functions of every stack, by name and ARN, invoked in-process."""

    def __init__(
        self, *, region: str, code_root: Path = LAMBDAS_DIR, base_environment: Mapping[str, str | None] | None = None
    ) -> None:
        """`base_environment` is what every function sees on top of the process's (None unsets a name)."""
        self.region = region
        self.code_root = Path(code_root)
        self.base_environment = dict(base_environment or {})
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.RLock()
        if str(self.code_root) not in sys.path:
            sys.path.append(str(self.code_root))

    def forget_cached_state(self) -> None:
        """Clears the module-level caches (`functools.cache`) of every function module already
        imported in this process: a new local stack starts with fresh execution environments, not
        with clients and tables a stopped one made for its own endpoints."""
        root = self.code_root.resolve()
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if not file or not Path(file).resolve().is_relative_to(root):
                continue
            for value in list(vars(module).values()):
                if (
                    callable(getattr(value, "cache_clear", None))
                    and getattr(value, "__module__", None) == module.__name__
                ):
                    value.cache_clear()

    def register(self, function: LocalFunction) -> None:
        self._functions[function.arn] = function
        self._functions[function.name] = function

    @property
    def functions(self) -> list[LocalFunction]:
        return list({id(fn): fn for fn in self._functions.values()}.values())

    def find(self, reference: str) -> LocalFunction:
        """The function named by a name, an ARN, or an API Gateway integration/authorizer URI."""
        if reference in self._functions:
            return self._functions[reference]
        match = _FUNCTION_ARN.search(reference)
        if match:
            arn = match.group(0)
            unqualified = arn.rsplit(":", 1)[0] if arn.count(":") > 6 else arn
            for candidate in (arn, unqualified):
                if candidate in self._functions:
                    return self._functions[candidate]
        raise UnknownFunction(f"no local function for {reference!r}")

    def load(self, function: LocalFunction) -> None:
        """Imports the handler with the function's environment, as Lambda's init phase does."""
        module_name, _, attribute = function.handler.rpartition(".")
        with self._environment(function):
            module = importlib.import_module(module_name)
        entry = getattr(module, attribute, None)
        if not callable(entry):
            raise UnknownFunction(f"{function.logical_id}: handler {function.handler!r} is not a function")
        function._entry = entry

    def invoke(self, reference: str | LocalFunction, event: Any) -> Any:
        function = reference if isinstance(reference, LocalFunction) else self.find(reference)
        if function._entry is None:
            self.load(function)
        context = LambdaContext(function)
        with self._environment(function):
            started = time.monotonic()
            try:
                return function._entry(event, context)
            except Exception as error:
                logger.exception("function %s failed", function.name)
                raise FunctionError(function.name, error) from error
            finally:
                elapsed = time.monotonic() - started
                if elapsed > function.timeout_seconds:
                    logger.warning(
                        "function %s ran %.1f s, longer than its %d s timeout",
                        function.name,
                        elapsed,
                        function.timeout_seconds,
                    )

    @contextmanager
    def _environment(self, function: LocalFunction) -> Iterator[None]:
        variables: dict[str, str | None] = {
            **self.base_environment,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            **function.environment,
        }
        with self._lock:
            saved = {key: os.environ.get(key) for key in variables}
            for key, value in variables.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            try:
                yield
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


def function_from_template(
    logical_id: str, stack_name: str, properties: Mapping[str, Any], *, name: str, arn: str, environment: dict[str, str]
) -> LocalFunction:
    return LocalFunction(
        logical_id=logical_id,
        stack_name=stack_name,
        name=name,
        arn=arn,
        handler=str(properties["Handler"]),
        environment=environment,
        timeout_seconds=int(properties.get("Timeout", 3)),
        memory_mb=int(properties.get("MemorySize", 128)),
    )
