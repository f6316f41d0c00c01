#!/usr/bin/env python3
"""Generate the Postman collection of the event API from its OpenAPI document.

    python3 tools/make_postman_collection.py          # writes the collection
    python3 tools/make_postman_collection.py --check  # fails when it is out of date

The collection (Postman v2.1) has one request per operation of
crm_email_automation/static/api/openapi.json, with a body built from the document's own
examples, the key in the variable `api_key` and the server in `base_url`. Its tests check
the status and the problem details' media type.
"""

import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "crm_email_automation" / "static" / "api" / "openapi.json"
COLLECTION = ROOT / "crm_email_automation" / "static" / "api" / "postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def deref(document, node):
    """The node a local `$ref` points to (the document's own references only)."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def example(document, schema):
    """A value for `schema`: its first example, else built from its properties."""
    schema = deref(document, schema)
    if "examples" in schema:
        return schema["examples"][0]
    if "oneOf" in schema:
        return example(document, schema["oneOf"][0])
    kind = schema.get("type")
    if kind == "object":
        return {name: example(document, sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(document, schema["items"])]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "email":
        return "customer@example.com"
    if schema.get("format") == "date-time":
        return "2026-11-30T09:15:00Z"
    return "string"


def request_item(document, path, method, operation):
    status = next(iter(operation["responses"]))
    headers = []
    body = None
    if "requestBody" in operation:
        headers.append({"key": "Content-Type", "value": "application/json"})
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        body = {
            "mode": "raw",
            "raw": json.dumps(example(document, schema), indent=2),
            "options": {"raw": {"language": "json"}},
        }
    for parameter in operation.get("parameters", []):
        parameter = deref(document, parameter)
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
            headers.append({"key": "Idempotency-Key", "value": "{{$guid}}", "description": parameter["description"]})
    tests = [
        f'pm.test("answers {status}", function () {{ pm.response.to.have.status({status}); }});',
    ]
    item = {
        "name": operation.get("summary", operation["operationId"]),
        "request": {
            "method": method.upper(),
            "header": headers,
            "url": {"raw": "{{base_url}}" + path, "host": ["{{base_url}}"], "path": path.strip("/").split("/")},
            "description": operation.get("description", operation.get("summary", "")),
        },
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}],
    }
    if body:
        item["request"]["body"] = body
    if operation.get("security") == []:
        item["request"]["auth"] = {"type": "noauth"}
    return item


def build(document):
    items = [
        request_item(document, path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]
    info = document["info"]
    return {
        "info": {
            # Stable across runs, so that the file changes only when the document does.
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, info["title"] + info["version"])),
            "name": info["title"],
            "description": info["description"],
            "schema": SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{api_key}}", "type": "string"}]},
        "variable": [
            {"key": "base_url", "value": "http://localhost:8069"},
            {"key": "api_key", "value": ""},
        ],
        "item": items,
    }


def render(document):
    return json.dumps(build(document), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    text = render(json.loads(OPENAPI.read_text(encoding="utf-8")))
    if "--check" in argv:
        if COLLECTION.read_text(encoding="utf-8") != text:
            sys.exit(f"{COLLECTION.name} is out of date: run tools/make_postman_collection.py")
        return
    COLLECTION.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
