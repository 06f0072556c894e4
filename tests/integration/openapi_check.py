"""Checks every answer the test suite receives against docs/openapi.yaml.

harness.http_session() hangs `check_response` on each session's response hook, so every
answer fetched with `requests` through the harness (the Api helpers, the storage
session, and the tests' own `http_session()` calls) is checked as it arrives:

- The request's port names the listener: the API listener or the storage endpoint of a
  server this process started (others, such as webhook receivers or a remote S3 store,
  are not checked). On the API listener a path under the server's base path is matched
  against the spec's paths whose server is `{origin}{basePath}`, any other against those
  whose server is `{origin}` (/healthz, /demo/, ...); on the storage endpoint against
  `{storageOrigin}`'s. Path templates match one segment per parameter (the last of a
  storage path any rest, as object keys may hold slashes); literal paths win.
- The status must be one the operation documents (HEAD falls back to GET, as the server
  answers HEAD wherever it answers GET). A path no operation has, or a method the path
  does not take, may answer only what `x-audiodrop-unrouted` documents for that
  listener (on the API 404 not_found or 405 method_not_allowed besides the answers any
  request can get; on the storage endpoint S3 errors); a CORS preflight 204 or 403.
- API answers: the Content-Type must be one the response documents, an answer without
  documented content must have no body, and a JSON body must validate against its
  schema (Draft 2020-12, `$ref`s resolved in the spec). Storage answers: status and
  Content-Type only. A streamed body (stream=True) not read yet is left unread.

A mismatch raises SpecDrift (an AssertionError) naming the request, the answer and the
spec's location, and is remembered: harness.main() fails the run for any drift, also
one raised where a test swallowed it (a polling thread). Validators are compiled once
per process. AUDIODROP_OPENAPI_CHECK=0 turns the checks off.
"""

import collections
import json
import os
import re
import threading
import urllib.parse
import warnings

SPEC_PATH = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", "..", "docs", "openapi.yaml"))
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecDrift(AssertionError):
    """An answer the spec does not describe."""


# Every drift seen by this process, for harness.main() to report, and how many answers
# were checked, by the spec location that described them.
drifts = []
checked = collections.Counter()
_drifts_lock = threading.Lock()


def enabled():
    return os.environ.get("AUDIODROP_OPENAPI_CHECK", "1") != "0" and os.path.exists(SPEC_PATH)


class _Route:
    def __init__(self, template, item, kind):
        self.template = template
        self.item = item
        self.kind = kind
        names = re.findall(r"\{([^}]+)\}", template)
        pattern = ""
        for i, part in enumerate(re.split(r"(\{[^}]+\})", template)):
            if part.startswith("{") and part.endswith("}"):
                last = template.endswith(part)
                pattern += "(.+)" if (kind == "storage" and last) else "([^/]+)"
            else:
                pattern += re.escape(part)
        self.regex = re.compile("^" + pattern + "$")
        self.params = len(names)


class Spec:
    """docs/openapi.yaml, with its routes and compiled validators."""

    def __init__(self, path=SPEC_PATH):
        try:
            import yaml
            import jsonschema
        except ImportError as e:
            raise RuntimeError(f"checking answers against {path} needs {e.name} "
                               "(scripts/install-deps.sh installs python3-yaml and "
                               "python3-jsonschema); AUDIODROP_OPENAPI_CHECK=0 skips it")
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self._jsonschema = jsonschema
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._resolver = jsonschema.RefResolver(base_uri="", referrer=self.doc)
        self._format_checker = jsonschema.FormatChecker()
        self._validators = {}
        self._lock = threading.Lock()
        top = self.doc.get("servers") or [{"url": "/"}]
        self.routes = {"api": [], "root": [], "storage": []}
        for template, item in self.doc.get("paths", {}).items():
            url = (item.get("servers") or top)[0]["url"]
            kind = ("storage" if "{storageOrigin}" in url else
                    "api" if "{basePath}" in url else "root")
            self.routes[kind].append(_Route(template, item, kind))
        for routes in self.routes.values():
            routes.sort(key=lambda r: r.params)  # literal paths first
        self.unrouted = self.doc.get("x-audiodrop-unrouted", {})

    def resolve(self, node):
        """`node` with its top-level $ref followed (response objects)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"only local $refs are followed: {ref}"
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
        return node

    def match(self, kind, path):
        for route in self.routes[kind]:
            if route.regex.match(path):
                return route
        return None

    def validator(self, key, schema):
        with self._lock:
            v = self._validators.get(key)
            if v is None:
                cls = self._jsonschema.Draft202012Validator
                v = cls(schema, resolver=self._resolver, format_checker=self._format_checker)
                self._validators[key] = v
            return v


_spec = None
_spec_lock = threading.Lock()


def spec():
    global _spec
    with _spec_lock:
        if _spec is None:
            _spec = Spec()
        return _spec


def _media_type(value):
    return (value or "").split(";")[0].strip().lower()


def _media_matches(actual, documented):
    documented = documented.lower()
    if documented.endswith("/*"):
        return actual.startswith(documented[:-1])
    return actual == documented


def _drift(resp, what):
    req = resp.request
    message = (f"docs/openapi.yaml does not describe {req.method} {req.url} -> "
               f"{resp.status_code}: {what}")
    with _drifts_lock:
        drifts.append(message)
    raise SpecDrift(message)


def _listener(servers, url):
    """('api', server) / ('storage', server) / (None, None) for a request URL."""
    port = urllib.parse.urlsplit(url).port
    for server in reversed(servers):  # the newest first: ports are reused only after
        if port is not None and port == server.port:
            return "api", server
        if port is not None and port == server.storage_port:
            return "storage", server
    return None, None


def check_response(resp, servers, stream=False):
    """Raises SpecDrift if the spec does not describe `resp`; see the module's doc.
    `stream`: the request's (requests passes its send() arguments to response hooks,
    which run before a body is read); a streamed body is left for the test to read."""
    if not enabled():
        return
    listener, server = _listener(servers, resp.request.url)
    if listener is None:
        return
    s = spec()
    method = resp.request.method.lower()
    path = urllib.parse.urlsplit(resp.request.url).path
    if listener == "api":
        base = server.base_path.rstrip("/")
        if base and (path == base or path.startswith(base + "/")):
            kind, rel = "api", path[len(base):]
        else:
            kind, rel = "root", path
    else:
        kind, rel = "storage", path
    status = str(resp.status_code)
    where = None
    responses = None
    headers = resp.request.headers
    unrouted = s.unrouted.get(listener, {})
    if (method == "options" and "Access-Control-Request-Method" in headers
            and status in unrouted.get("corsPreflight", {})):
        where = f"x-audiodrop-unrouted.{listener}.corsPreflight"
        responses = unrouted["corsPreflight"]
    else:
        route = s.match(kind, rel)
        if route is None:
            where = f"x-audiodrop-unrouted.{listener}.unknownPath (no {kind} path matches {rel})"
            responses = {**unrouted.get("anyRequest", {}), **unrouted.get("unknownPath", {})}
        else:
            op = route.item.get(method)
            if op is None and method == "head":
                op, method = route.item.get("get"), "get"
            if op is None:
                where = (f"x-audiodrop-unrouted.{listener}.unknownMethod "
                         f"({resp.request.method} on {route.template})")
                responses = {**unrouted.get("anyRequest", {}), **unrouted.get("unknownMethod", {})}
            else:
                where = f"paths.{route.template}.{method}.responses"
                responses = op.get("responses", {})
    documented = (responses.get(status) or responses.get(status[0] + "XX")
                  or responses.get("default"))
    if documented is None:
        _drift(resp, f"status {status} is not documented at {where} "
                     f"(documented: {', '.join(sorted(responses)) or 'none'})")
    documented = s.resolve(documented)
    _check_body(resp, s, listener, documented, f"{where}.{status}", readable=not stream)
    with _drifts_lock:
        checked[f"{where}.{status}"] += 1


def _check_body(resp, s, listener, documented, where, readable):
    content = documented.get("content") or {}
    ctype = _media_type(resp.headers.get("Content-Type"))
    bodiless = resp.request.method == "HEAD" or resp.status_code in (204, 304)
    if not content:
        if not bodiless and readable and resp.content:
            _drift(resp, f"{where} documents no body, got {len(resp.content)} bytes "
                         f"of {ctype or 'no Content-Type'}")
        return
    if bodiless:
        return
    if readable and not resp.content and listener == "storage":
        return
    media = next((m for m in content if _media_matches(ctype, m)), None)
    if media is None:
        _drift(resp, f"Content-Type {ctype or '(none)'} is not one of {where}'s "
                     f"{', '.join(content)}")
    if listener != "api" or media != "application/json" or not readable:
        return
    schema = content[media].get("schema")
    if schema is None:
        return
    try:
        body = json.loads(resp.content)
    except ValueError:
        _drift(resp, f"the body is not JSON: {resp.content[:300]!r}")
    validator = s.validator(where + "/" + media, schema)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors[:5]:
            at = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                               for p in e.absolute_path)
            lines.append(f"{at}: {e.message[:300]}")
        _drift(resp, f"the body does not match {where} {media}: " + "; ".join(lines)
                     + f"\nbody: {resp.text[:1000]}")
