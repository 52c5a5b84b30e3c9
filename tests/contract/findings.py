"""Every check of the merged document, each giving a list of findings (empty: the check passes).

Used by the tests (tests/contract/test_contract.py) and by `python -m tests.contract`, which prints them grouped
by tool, rule and place so that whoever changes a service sees what is left.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from gateway.settings import SERVICE_NAMES
from shared.uscc import uscc_problem

CONTRACT_DIR = Path(__file__).resolve().parent
NODE_MODULES = CONTRACT_DIR / "node_modules"
PYTHON_CLIENT_PACKAGE = "cq_api_client"
INSTALL_HINT = (
    "run `make test` (it runs `npm ci` in tests/contract) or `npm ci --ignore-scripts --prefix tests/contract`"
)

# Pinned here for the structural rules: the 38 districts of Chongqing and the 18 sectors of the action plan.
DISTRICT_COUNT = 38
SECTOR_COUNT = 18
MAX_OPERATION_ID_LENGTH = 32
LOWER_CAMEL_CASE = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*")
SERVICE_PREFIX = re.compile(r"(?:" + "|".join(name.capitalize() for name in SERVICE_NAMES) + r")_")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_MEDIA_TYPE = "application/problem+json"
# A string of a credit code's shape (GB 32100-2015) anywhere in the document, an example most likely: it must pass
# the check the server applies, or "Try it out" fails.
USCC_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
YUAN = re.compile(r"-?\d+\.\d{2}")
CODE_FIELDS = re.compile(r"(?:\w+_)?district_code|division_code|sector")
# Tools that phone home or nag about updates are told not to.
QUIET_TOOLS = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_UPDATE_NOTIFIER": "1"}


@dataclass(frozen=True, order=True)
class Finding:
    tool: str
    rule: str
    where: str  # "GET /api/v1/registry/enterprises responses/404" or "schema EnterpriseOut properties/x"
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.where}: {self.message}"


class ToolMissing(RuntimeError):
    pass


def node_tool(name: str) -> Path:
    tool = NODE_MODULES / ".bin" / name
    if not tool.exists():
        raise ToolMissing(f"{name} is not installed in {NODE_MODULES}: {INSTALL_HINT}")
    return tool


def python_tool(name: str) -> Path:
    tool = Path(sys.executable).parent / name
    if not tool.exists():
        raise ToolMissing(f"{name} is not in the venv ({tool}): install requirements-dev.lock (`make venv`)")
    return tool


def run(command: list[str | Path], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        # The venv's own tools first: openapi-python-client formats what it generates with the venv's ruff.
        env={**os.environ, **QUIET_TOOLS, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )


# Places in the document ------------------------------------------------------------------------------------------


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def describe(segments: list[str]) -> str:
    """A JSON pointer's segments as a reader names the place: the operation or the schema, then the rest."""
    parts = [str(segment) for segment in segments]
    if len(parts) >= 2 and parts[0] == "paths":
        if len(parts) >= 3 and parts[2] in HTTP_METHODS:
            return " ".join([parts[2].upper(), parts[1], "/".join(parts[3:])]).strip()
        return " ".join(["PATH", parts[1], "/".join(parts[2:])]).strip()
    if len(parts) >= 3 and parts[:2] == ["components", "schemas"]:
        return " ".join(["schema", parts[2], "/".join(parts[3:])]).strip()
    if len(parts) >= 3 and parts[0] == "components":
        return " ".join([parts[1], parts[2], "/".join(parts[3:])]).strip()
    return "/".join(parts) or "(document)"


def pointer_segments(pointer: str) -> list[str]:
    pointer = pointer.removeprefix("#")
    return [unescape(segment) for segment in pointer.split("/")[1:]] if pointer else []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for segment in pointer_segments(ref):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            raise KeyError(ref)
    return node


def walk(node: Any, segments: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield segments, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*segments, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*segments, str(index)))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


# The tools ---------------------------------------------------------------------------------------------------------


def spec_validator(document: dict[str, Any]) -> list[Finding]:
    try:
        validate(document)
    except OpenAPIValidationError as error:
        where = describe([str(segment) for segment in error.absolute_path])
        return [Finding("openapi-spec-validator", "invalid", where, error.message[:300])]
    except Exception as error:  # a reference to nowhere stops the validator with an exception of its own
        return [Finding("openapi-spec-validator", type(error).__name__, "(document)", str(error)[:300])]
    return []


def redocly(document_path: Path) -> list[Finding]:
    result = run(
        [node_tool("redocly"), "lint", document_path, "--config", CONTRACT_DIR / "redocly.yaml", "--format", "json"],
        cwd=document_path.parent,
    )
    try:
        report = json.loads(result.stdout[result.stdout.index("{") :])
    except ValueError:
        return [Finding("redocly", "did-not-run", "(document)", (result.stderr or result.stdout)[-500:])]
    found = []
    for problem in report.get("problems", []):
        pointer = (problem.get("location") or [{}])[0].get("pointer", "")
        rule = f"{problem.get('severity', '?')}:{problem.get('ruleId', '?')}"
        found.append(Finding("redocly", rule, describe(pointer_segments(pointer)), problem.get("message", "")))
    return found


SPECTRAL_SEVERITY = {0: "error", 1: "warn", 2: "info", 3: "hint"}


def spectral(document_path: Path) -> list[Finding]:
    """Errors and warnings (infos and hints are advice the tool does not count as failures)."""
    result = run(
        [
            node_tool("spectral"),
            "lint",
            document_path,
            "--ruleset",
            CONTRACT_DIR / ".spectral.yaml",
            "--format",
            "json",
        ],
        cwd=document_path.parent,
    )
    output = result.stdout.strip()
    if output.startswith("No results"):
        return []
    try:
        # The JSON list, then (when it is empty) a sentence saying so.
        results, _ = json.JSONDecoder().raw_decode(output[output.index("[") :])
    except ValueError:
        return [Finding("spectral", "did-not-run", "(document)", (result.stderr or result.stdout)[-500:])]
    found = []
    for item in results:
        severity = SPECTRAL_SEVERITY.get(item.get("severity"), "?")
        if severity in ("error", "warn"):
            where = describe([str(segment) for segment in item.get("path", [])])
            found.append(Finding("spectral", f"{severity}:{item.get('code')}", where, item.get("message", "")))
    return found


# The generator's own settings, as README ("Generating a client") gives them: the package's name, and the spreadsheet
# and CSV bodies as raw bytes (it types request bodies of JSON, forms and application/octet-stream only).
PYTHON_CLIENT_CONFIG = CONTRACT_DIR / "python-client.yaml"
PYTHON_CLIENT_LOG = "python-client.log"
_OPC_OPERATION = re.compile(r"(?:WARNING|ERROR) parsing (\w+) (\S+) within \S+")
_OPC_SCHEMA = re.compile(
    r"Unable to (?:parse|process) schema (/components/schemas/[^\s:]+):?|(/components/schemas/\S+)$"
)
_OPC_HEADERS = (_OPC_OPERATION, _OPC_SCHEMA, re.compile(r"ERROR|WARNING"))
_OPC_DROPPED = re.compile(
    r"Cannot parse response for status code \S+ \((.*)\), response will be omitted from generated client"
)
_OPC_CHATTER = re.compile(
    r"Generating |Warning\(s\) encountered|Error\(s\) encountered|If you believe|Skipping Integration"
)
_UNTRUSTED = re.compile(r"<openapi_python_client\.\S+ object at 0x[0-9a-f]+>")


def python_client(document_path: Path, out_dir: Path) -> list[Finding]:
    """`openapi-python-client generate` into `out_dir/<package>`: each warning or error it prints (its whole
    output is kept in `out_dir/python-client.log`)."""
    config = PYTHON_CLIENT_CONFIG
    target = out_dir / PYTHON_CLIENT_PACKAGE
    command: list[str | Path] = [python_tool("openapi-python-client"), "generate", "--path", document_path]
    command += ["--meta", "none"]
    command += ["--config", config, "--output-path", target, "--overwrite"]
    result = run(command, cwd=out_dir, timeout=180)
    output = result.stdout + result.stderr
    (out_dir / PYTHON_CLIENT_LOG).write_text(output, encoding="utf-8")
    found = _python_client_findings(output)
    if result.returncode != 0 and not found:
        found.append(Finding("openapi-python-client", "failed", "(document)", output[-500:]))
    return found


def _python_client_findings(output: str) -> list[Finding]:
    """The tool prints a header per problem (the operation or the schema), a sentence, then the JSON concerned."""
    found: list[Finding] = []
    current: tuple[str, list[str]] | None = None
    in_json = False

    def close() -> None:
        if current is not None:
            message = _UNTRUSTED.sub("?", " ".join(current[1])).strip()
            message = _OPC_DROPPED.sub(r"response dropped (\1):", message)
            rule = "error" if message.startswith("ERROR") else "warning"
            found.append(Finding("openapi-python-client", rule, current[0], message[:300]))

    for line in output.splitlines():
        if in_json or line.startswith(("{", "[")):
            in_json = not line.startswith(("}", "]"))
            if current is not None and '"$ref"' in line:
                current[1].append(line.strip())
            continue
        text = line.strip()
        if not text or _OPC_CHATTER.match(text) or text.startswith("Failure to process schema"):
            continue
        if any(header.match(text) for header in _OPC_HEADERS):
            close()
            operation, schema = _OPC_OPERATION.match(text), _OPC_SCHEMA.match(text)
            if operation:
                where = f"{operation.group(1).upper()} {operation.group(2)}"
            elif schema:
                where = describe(pointer_segments(schema.group(1) or schema.group(2)))
            else:
                where = "(document)"
            header = operation or schema
            rest = text[header.end() :].strip(" .") if header else text
            removed = schema is not None and schema.group(2) is not None
            current = (where, [rest] if rest else ["removed: a schema it refers to failed"] if removed else [])
        elif current is not None:
            current[1].append(text)
        else:
            current = ("(document)", [text])
    close()
    return found


# What a Python team does with the client: an authenticated client, a problem body parsed into its model, a page
# of enterprises after a cursor. (Not the import: openapi-python-client 0.29.1 generates `isinstance(body,
# list[Row])` for a body of several media types, a TypeError; README, "Generating a client".) Each step prints one line: "ok <step>" or "fail <step>: <why>".
_PYTHON_CLIENT_PROGRAM = f"""
import importlib, pkgutil
import {PYTHON_CLIENT_PACKAGE} as package
from {PYTHON_CLIENT_PACKAGE}.models import Problem

def operation(name):
    api = importlib.import_module("{PYTHON_CLIENT_PACKAGE}.api")
    for _, module, _ in pkgutil.walk_packages(api.__path__, api.__name__ + "."):
        if module.endswith("." + name):
            return importlib.import_module(module)
    raise LookupError("no operation module " + name)

def step(name, run):
    try:
        run()
        print("ok", name)
    except Exception as error:
        print("fail", name + ":", type(error).__name__, str(error)[:200].replace("\\n", " "))

def client():
    with package.AuthenticatedClient(base_url="http://127.0.0.1:8000", token="key") as api:
        assert api.get_httpx_client().headers["Authorization"] == "Bearer key"

def problem():
    body = {{"type": "/problems/not-found", "title": "Not Found", "status": 404, "detail": "No such enterprise.",
            "instance": "/api/v1/registry/enterprises/x", "request_id": "r1"}}
    parsed = Problem.from_dict(body)
    assert parsed.status == 404 and parsed.to_dict()["instance"] == body["instance"], parsed

def page_after_cursor():
    kwargs = operation("list_enterprises")._get_kwargs(cursor="abc", limit=500)
    assert kwargs["params"]["cursor"] == "abc" and kwargs["params"]["limit"] == 500, kwargs

for name, run in [("client", client), ("problem", problem), ("page_after_cursor", page_after_cursor)]:
    step(name, run)
"""


def python_client_use(out_dir: Path) -> list[Finding]:
    """Import the generated package with the venv's Python (in a process of its own) and use it a little."""
    result = run([sys.executable, "-c", _PYTHON_CLIENT_PROGRAM], cwd=out_dir)
    found = []
    for line in result.stdout.splitlines():
        if line.startswith("fail "):
            step, _, why = line.removeprefix("fail ").partition(": ")
            found.append(Finding("openapi-python-client", "use", f"{PYTHON_CLIENT_PACKAGE} {step}", why))
    if result.returncode != 0 or not result.stdout.strip():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        found.append(Finding("openapi-python-client", "import", PYTHON_CLIENT_PACKAGE, " | ".join(tail)))
    return found


def typescript_schema(document_path: Path, out_dir: Path) -> list[Finding]:
    """`openapi-typescript` writes `out_dir/schema.d.ts`; what it reports as a warning or error is a finding."""
    schema = out_dir / "schema.d.ts"
    schema.unlink(missing_ok=True)
    # A field with a default may be left out of a request: without `--default-non-nullable false` openapi-typescript
    # makes every such field required, in request bodies too (README, "Generating a client").
    command: list[str | Path] = [node_tool("openapi-typescript"), document_path, "--output", schema]
    command += ["--default-non-nullable", "false"]
    result = run(command, cwd=out_dir)
    found = []
    if result.returncode == 0:
        for line in (result.stdout + result.stderr).splitlines():
            if re.search(r"\b(warn|warning|error)\b|✘|⚠", line, re.IGNORECASE):
                found.append(Finding("openapi-typescript", "warning", "(document)", line.strip()[:300]))
    if result.returncode != 0 or not schema.exists():
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
        said = [line for line in lines if line.startswith(("✘", "Error", "TypeError"))] or lines[-3:]
        found.append(Finding("openapi-typescript", "failed", "(document)", " | ".join(said)[:400]))
    return found


# `tsc --strict --noEmit` with the settings of a browser front-end; `types: []` keeps the tools' own @types (node)
# out of the program, so that it sees the DOM's fetch, Blob and Headers only. `skipLibCheck`: the generated
# schema.d.ts is checked where the programs use it, not on its own (that alone takes three times as long).
# What a generated type cannot say: `unknown` (a schema of no type) and `Record<string, never>` (an object of no
# properties); the index signature every response's headers have, and the empty top-level maps, are fine.
_LOOSE_TYPE = re.compile(r"(?<![\w\"'`])unknown(?![\w\"'`])|Record<string, never>")
_LOOSE_ALLOWED = re.compile(
    r"^\s*\[name: string\]: unknown;$|^export type (?:webhooks|\$defs) = Record<string, never>;$"
)
_TS_INTERFACE = re.compile(r"^export interface (\w+) \{$")
_TS_KEY = re.compile(r"^( +)(\"[^\"]+\"|[\w$]+)\??: ")
_TS_OPERATION = re.compile(r"^ {8}(\w+): operations\[\"([^\"]+)\"\];$")


def typescript_loose_types(out_dir: Path) -> list[Finding]:
    """Types in `schema.d.ts` a front-end cannot use without a cast, each named by the operation (as method and
    path) or the schema it is in."""
    found = []
    interface, place, path = "", "(schema.d.ts)", ""
    operation_places: dict[str, str] = {}
    for number, line in enumerate((out_dir / "schema.d.ts").read_text(encoding="utf-8").splitlines(), start=1):
        if started := _TS_INTERFACE.match(line):
            interface, place = started.group(1), "(schema.d.ts)"
        elif (key := _TS_KEY.match(line)) is not None:
            indent, name = len(key.group(1)), key.group(2).strip('"')
            if interface == "paths" and indent == 4:
                path = place = name
            elif interface == "operations" and indent == 4:
                place = operation_places.get(name, f"operation {name}")
            elif interface == "components" and indent == 8:
                place = f"schema {name}"
        if interface == "paths" and (operation := _TS_OPERATION.match(line)):
            operation_places[operation.group(2)] = f"{operation.group(1).upper()} {path}"
        code = line.split("//", 1)[0]
        if code.lstrip().startswith(("*", "/*")) or _LOOSE_ALLOWED.match(code) or not _LOOSE_TYPE.search(code):
            continue
        found.append(Finding("openapi-typescript", "loose-type", place, f"schema.d.ts:{number}: {line.strip()[:200]}"))
    return found


TSC_OPTIONS = {
    "target": "es2022",
    "module": "esnext",
    "moduleResolution": "bundler",
    "lib": ["es2022", "dom", "dom.iterable"],
    "types": [],
    "skipLibCheck": True,
}
_TSC_ERROR = re.compile(r"^(?P<file>[^(\s]+)\((?P<line>\d+),(?P<column>\d+)\): error (?P<code>TS\d+): (?P<message>.*)$")


def typescript_programs(out_dir: Path, *programs: str) -> list[Finding]:
    """`tsc --strict --noEmit` over tests/contract/<programs> beside the generated `schema.d.ts`, in one run (each
    error names its file: `client.ts:12`)."""
    for program in programs:
        shutil.copyfile(CONTRACT_DIR / program, out_dir / program)
    modules = out_dir / "node_modules"
    if not modules.exists():
        modules.symlink_to(NODE_MODULES, target_is_directory=True)
    config = out_dir / "tsconfig.json"
    config.write_text(json.dumps({"compilerOptions": TSC_OPTIONS, "files": list(programs)}), encoding="utf-8")
    result = run([node_tool("tsc"), "--strict", "--noEmit", "--pretty", "false", "--project", config], cwd=out_dir)
    found = []
    for line in result.stdout.splitlines():
        match = _TSC_ERROR.match(line)
        if match:
            where = f"{match['file']}:{match['line']}"
            found.append(Finding("tsc", match["code"], where, match["message"][:300]))
        elif line.strip() and not line.startswith(" "):
            found.append(Finding("tsc", "output", "(tsc)", line.strip()[:300]))
    if result.returncode != 0 and not found:
        found.append(Finding("tsc", "failed", "(tsc)", (result.stderr or result.stdout)[-500:]))
    return found


WRONG_MARK = re.compile(r"\s*[^\s/].*// wrong:")


def wrong_lines(program: str = "client_wrong.ts") -> set[str]:
    """The lines of the program marked as deliberate mistakes (code, then `// wrong: why`)."""
    lines = (CONTRACT_DIR / program).read_text(encoding="utf-8").splitlines()
    return {f"{program}:{number}" for number, line in enumerate(lines, start=1) if WRONG_MARK.match(line)}


MAPPED_KEY_AS = re.compile(r"(\[\s*\w+\s+in\s+[^\]]*?)\bas\b")
CASTS = [
    (re.compile(r"\bas\s+(?!const\b)[A-Za-z_{[(]"), "a type assertion (`as`)"),
    (re.compile(r"\bany\b"), "`any`"),
    (re.compile(r"[\w)\]]!(?=[.\[;,)\s])"), "a non-null assertion (`!`)"),
    (re.compile(r"<[A-Z]\w*>\s*[\w(]"), "an angle-bracket assertion"),
    (re.compile(r"@ts-(?:ignore|expect-error|nocheck)"), "a `@ts-` directive"),
]


def casts(program: str) -> list[Finding]:
    """The TypeScript program must compile without telling the compiler what to believe."""
    found = []
    for number, line in enumerate((CONTRACT_DIR / program).read_text(encoding="utf-8").splitlines(), start=1):
        # A mapped type's key remapping (`[Key in keyof T as ...]`) is no assertion.
        code = MAPPED_KEY_AS.sub(r"\1", line.split("//", 1)[0])
        for pattern, what in CASTS:
            if pattern.search(line if "@ts-" in pattern.pattern else code):
                found.append(Finding("casts", "no-cast", f"{program}:{number}", f"{what}: {line.strip()[:120]}"))
    return found


# Rules the tools do not check ---------------------------------------------------------------------------------------


def structure(document: dict[str, Any], own_names: set[str] | None = None) -> list[Finding]:
    """The rules no tool checks; with `own_names` (document.own_schema_names) also that the merge kept every
    schema's own name (it renames one whose name another service uses for a different schema)."""
    found: list[Finding] = []

    def finding(rule: str, where: str, message: str) -> None:
        found.append(Finding("structure", rule, where, message))

    if not document.get("servers"):
        finding("servers", "(document)", "the document names no `servers`")

    seen: dict[str, str] = {}
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId")
        if not operation_id:
            finding("operation-id", where, "no operationId")
        else:
            if not LOWER_CAMEL_CASE.fullmatch(operation_id):
                finding("operation-id-case", where, f"`{operation_id}` is not lowerCamelCase")
            if len(operation_id) > MAX_OPERATION_ID_LENGTH:
                finding("operation-id-length", where, f"`{operation_id}` has {len(operation_id)} characters (> 32)")
            if operation_id in seen:
                finding("operation-id-unique", where, f"`{operation_id}` is also the id of {seen[operation_id]}")
            seen.setdefault(operation_id, where)
        summary = operation.get("summary", "")
        if summary.endswith("."):
            finding("summary-full-stop", where, f"the summary ends with a full stop: {summary!r}")
        if not operation.get("description"):
            finding("description", where, "no description")
        problem_4xx = [
            status
            for status, response in operation.get("responses", {}).items()
            if status.startswith("4") and PROBLEM_MEDIA_TYPE in _response(document, response).get("content", {})
        ]
        if not problem_4xx:
            finding("problem-4xx", where, f"no 4xx response documented as {PROBLEM_MEDIA_TYPE}")
        for parameter in operation.get("parameters", []):
            named = isinstance(parameter, dict) and CODE_FIELDS.fullmatch(str(parameter.get("name", "")))
            if named and not _names_its_values(parameter.get("schema", {})):
                finding("code-enum", f"{where} {parameter['name']}", "a code parameter typed as any string")
        for status, response in operation.get("responses", {}).items():
            headers = _response(document, response).get("headers", {})
            if "X-Request-ID" not in headers:
                finding("response-headers", f"{where} responses/{status}", "`X-Request-ID` is not documented")
            if status in ("429", "503") and "Retry-After" not in headers:
                finding("response-headers", f"{where} responses/{status}", "`Retry-After` is not documented")
        for status, response in operation.get("responses", {}).items():
            content = _response(document, response).get("content", {})
            if (status[:1] in ("4", "5") or status == "default") and set(content) - {PROBLEM_MEDIA_TYPE}:
                finding("problem-schema", f"{where} responses/{status}", f"an error not as {PROBLEM_MEDIA_TYPE}")
            schema = content.get(PROBLEM_MEDIA_TYPE, {}).get("schema")
            if schema is not None and not _extends_problem(document, schema):
                finding("problem-schema", f"{where} responses/{status}", "a problem schema without Problem's fields")
        bodies = [("requestBody", operation.get("requestBody", {}))]
        bodies += [(f"responses/{status}", response) for status, response in operation.get("responses", {}).items()]
        for place, body in bodies:
            for media_type, content in _response(document, body).get("content", {}).items():
                if not isinstance(content, dict) or "schema" not in content:
                    finding("media-schema", f"{where} {place}/content/{media_type}", "a media type without a schema")

    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        where = f"schema {name}"
        if own_names is not None and name not in own_names:
            finding("schema-renamed", where, "renamed by the gateway: two services use one name for different schemas")
        if SERVICE_PREFIX.match(name):
            finding("schema-name-prefix", where, "the name carries a service prefix")
        if name.endswith(("-Input", "-Output")):
            finding("schema-name-suffix", where, "FastAPI's -Input/-Output name: one schema for both, or two models")
        if name.startswith("Body_"):
            finding("schema-name-body", where, "FastAPI's generated body name: declare a model for the body")
        values = schema.get("enum") if isinstance(schema, dict) else None
        unnamed = isinstance(values, list) and any(isinstance(v, str) and not v[:1].isalpha() for v in values)
        if unnamed and "x-enum-varnames" not in schema:
            finding("enum-varnames", where, "values not starting with a letter need `x-enum-varnames`")
        if isinstance(schema, dict) and schema.get("title", name) != name:
            finding("schema-title", where, f"the title {schema['title']!r} differs from the name")

    for segments, node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            try:
                resolve(document, node["$ref"])
            except KeyError:
                finding("ref-resolves", describe(list(segments)), f"`{node['$ref']}` does not resolve")
        is_component = len(segments) == 3 and segments[:2] == ("components", "schemas")
        if isinstance(node, dict) and isinstance(node.get("enum"), list) and len(node["enum"]) > 1 and not is_component:
            finding("inline-enum", describe(list(segments)), f"an anonymous enum of {len(node['enum'])} values")
        if (
            isinstance(node, dict)
            and "properties" in node
            and segments[:1] == ("paths",)
            and segments[-1] in ("schema", "items")
        ):
            finding("inline-object", describe(list(segments)), "an object schema written inline: make it a named one")
        if isinstance(node, str) and USCC_SHAPE.fullmatch(node) and uscc_problem(node):
            finding(
                "example-uscc", describe(list(segments)), f"{node} fails the credit-code check: {uscc_problem(node)}"
            )
        if len(segments) >= 2 and segments[-2] == "properties" and isinstance(node, dict):
            if segments[-1].endswith("_yuan"):
                for example in _examples(node):
                    if not (isinstance(example, str) and YUAN.fullmatch(example)):
                        finding(
                            "example-yuan", describe(list(segments)), f"{example!r} is not a string with two places"
                        )
            if CODE_FIELDS.fullmatch(segments[-1]) and not _names_its_values(node):
                finding("code-enum", describe(list(segments)), "a code field typed as any string")
        if _free_form(segments, node):
            finding("free-form-json", describe(list(segments)), "free-form JSON: type its shape")

    for name, count in (("DistrictCode", DISTRICT_COUNT), ("SectorCode", SECTOR_COUNT)):
        values = schemas.get(name, {}).get("enum")
        if not isinstance(values, list) or len(set(values)) != count:
            got = "no such schema" if name not in schemas else f"{len(values or [])} enum values"
            finding("named-enum", f"schema {name}", f"should be an enum of {count} values: {got}")
    return found


def _extends_problem(document: dict[str, Any], schema: Any) -> bool:
    """The schema has every required field of `Problem` (it is Problem, or a subclass adding typed fields), or is
    a choice (`anyOf`/`oneOf`) of such schemas: one status answered by problems of several types."""
    problem = document.get("components", {}).get("schemas", {}).get("Problem", {})
    choices = schema.get("anyOf") or schema.get("oneOf") if isinstance(schema, dict) else None
    if isinstance(choices, list):
        return bool(choices) and all(_extends_problem(document, choice) for choice in choices)
    if isinstance(schema, dict) and "$ref" in schema:
        try:
            schema = resolve(document, schema["$ref"])
        except KeyError:
            return False
    wanted = set(problem.get("required", []))
    return isinstance(schema, dict) and bool(wanted) and wanted <= set(schema.get("properties", {}))


def _names_its_values(schema: Any) -> bool:
    """A named enum (a `$ref`), or an enum, somewhere in the schema (`anyOf` with null included)."""
    return any(isinstance(node, dict) and ("$ref" in node or "enum" in node) for _, node in walk(schema))


def _examples(schema: dict[str, Any]) -> list[Any]:
    values = list(schema.get("examples", [])) + ([schema["example"]] if "example" in schema else [])
    for option in schema.get("anyOf", []):
        if isinstance(option, dict):
            values += _examples(option)
    return values


_SCHEMA_KEYS = {"properties", "items", "additionalProperties", "schema", "allOf", "anyOf", "oneOf"}


def _free_form(segments: tuple[str, ...], node: Any) -> bool:
    """An object schema with neither properties nor typed additional properties, or `additionalProperties: true`:
    a generated client can only call it `unknown`."""
    if not isinstance(node, dict) or not segments or "$ref" in node:
        return False
    parent = segments[-1]
    is_schema_position = parent in ("schema", "items", "additionalProperties") or (
        len(segments) >= 2 and segments[-2] in ("properties", "schemas", "anyOf", "oneOf", "allOf", "prefixItems")
    )
    if not is_schema_position:
        return False
    if node.get("additionalProperties") is True:
        return True
    if node == {} and parent != "additionalProperties":
        return True
    return node.get("type") == "object" and not (_SCHEMA_KEYS & node.keys())


def _response(document: dict[str, Any], response: Any) -> dict[str, Any]:
    if isinstance(response, dict) and "$ref" in response:
        try:
            resolved: dict[str, Any] = resolve(document, response["$ref"])
        except KeyError:
            return {}
        return resolved
    return response if isinstance(response, dict) else {}


# Where a finding belongs ------------------------------------------------------------------------------------------

_SERVICE_PATH = re.compile(r"/api/v1/(\w+)(/\S*)?")


def component_of(finding: Finding, schema_owners: dict[str, set[str]]) -> str:
    """The component a finding's place belongs to: a service, the gateway, `shared` (a schema several services
    define) or `tests/contract` (the TypeScript programs); a guess from the path or the schema's origin."""
    if finding.tool in ("tsc", "casts"):
        return "tests/contract"
    match = _SERVICE_PATH.search(finding.where)
    if match:
        return match.group(1)
    schema = re.match(r"schema (\S+)", finding.where)
    if schema:
        owners = schema_owners.get(schema.group(1), set())
        if len(owners) == 1:
            return next(iter(owners))
        return "shared" if owners else "gateway"
    return "gateway"
