"""Schemathesis hooks for the Sluice API (loaded through SCHEMATHESIS_HOOKS by run.sh).

Two things no schema can say, filled in here so that valid uploads and binding changes are
exercised for real (what invalid ones get, 400, is covered by tests/plugins.rs and
tests/plugins_hostile.rs):

- `PUT /v1/plugins/{name}` takes "a WebAssembly component of world sluice:plugin": a body
  generated as valid is replaced by SLUICE_TEST_COMPONENT. Cases generated as invalid
  (negative testing) are never changed.
- Which `config` keys a plugin accepts is the plugin's own business (its `init` refuses what
  it does not know, a documented 400): the component used here takes none, so generated
  config is left out of valid uploads and binding changes.
- Whether `memory_bytes` is enough depends on the component: the one used here needs about
  1.5 MiB to start (a Rust guest's stack alone is 1 MiB), so smaller values, valid for the
  API (1 MiB and up), are raised to 2 MiB.

`application/wasm` bodies are sent as raw bytes, like `application/octet-stream`. The
component goes in when the body is serialized, after schemathesis has judged the case (it
counts any binary body as schema-violating).
"""

import os

import schemathesis
from schemathesis.transport.serialization import serialize_binary

COMPONENT = os.environ.get("SLUICE_TEST_COMPONENT")
ENOUGH_MEMORY = 2 << 20
PLUGIN = "/v1/plugins/{name}"


def _enough(value):
    """`memory_bytes` raised to what the component needs (query values may be text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if isinstance(value, bool) or not 0 < number < ENOUGH_MEMORY:
        return value
    return str(ENOUGH_MEMORY) if isinstance(value, str) else ENOUGH_MEMORY


@schemathesis.serializer("application/wasm")
def wasm(ctx, value):
    if COMPONENT and _valid(ctx.case):
        with open(COMPONENT, "rb") as f:
            return f.read()
    return serialize_binary(value)


def _valid(case):
    """Whether the case was generated to fit the schema (negative cases go as they are)."""
    mode = getattr(getattr(case.meta, "generation", None), "mode", None)
    return getattr(mode, "value", mode) != "negative"


@schemathesis.hook
def before_call(context, case, **kwargs):
    method = case.operation.method.upper()
    if case.operation.path != PLUGIN:
        return
    if not _valid(case):
        return
    if method == "PUT":
        if case.query:
            for key in [k for k in case.query if k.startswith("config.")]:
                del case.query[key]
            if "memory_bytes" in case.query:
                case.query["memory_bytes"] = _enough(case.query["memory_bytes"])
    elif method == "PATCH" and isinstance(case.body, dict):
        if isinstance(case.body.get("config"), dict):
            case.body["config"] = {}
        limits = case.body.get("limits")
        if isinstance(limits, dict) and "memory_bytes" in limits:
            limits["memory_bytes"] = _enough(limits["memory_bytes"])
