"""The edge's audit trail: one JSON line per request, on every self-hosted target.

Who (the login name), from where (the real client: behind the ALB, nginx's realip module has
already replaced $remote_addr with the address the load balancer saw), what (method,
repository, tag or digest), and how it ended (status, bytes, seconds). Never a password or
token: nginx logs only the variables named here, and no header but the User-Agent; the request
URI is left out too (an upload's `_state` query is the registry's own signed state). Values are
JSON-escaped by nginx (`escape=json`), so a login name a client made up cannot break the line.
On aws the edge's stdout goes to CloudWatch Logs, where saved Logs Insights queries read these
fields (components/aws/observability.py).
"""

from __future__ import annotations

# field -> the nginx value; numbers unquoted (nginx prints them as numbers)
AUDIT_FIELDS: dict[str, str] = {
    "time": '"$time_iso8601"',
    "user": '"$remote_user"',
    "client": '"$remote_addr"',
    "method": '"$request_method"',
    "repository": '"$edge_repository"',
    "reference": '"$audit_reference"',
    "status": "$status",
    "bytes": "$body_bytes_sent",
    "received": "$request_length",
    "duration": "$request_time",
    "request": '"$request_id"',
    "agent": '"$http_user_agent"',
}
AUDIT_FORMAT = "audit"

# the tag or digest a request names: a manifest's or blob's reference (never "uploads" itself)
_REFERENCE_ROUTES = (
    r"^/v2/.+/manifests/([^/?]+)(?:\?.*)?$",
    r"^/v2/.+/blobs/(?!uploads/)([^/?]+)(?:\?.*)?$",
)
# the closing PUT's digest, URL-encoded as clients send it (sha256%3A...): written back as sha256:...
_UPLOAD_DIGEST = r"^/v2/.+/blobs/uploads/[^?]*\?(?:[^&]*&)*?digest=(?<algorithm>[a-z0-9]+)(?::|%3[Aa])(?<hex>[0-9a-f]+)"


def audit_log_format() -> str:
    """The http-level `log_format` line of the audit trail."""
    body = ",".join(f'"{field}":{value}' for field, value in AUDIT_FIELDS.items())
    return f"    log_format {AUDIT_FORMAT} escape=json '{{{body}}}';\n"


def audit_maps() -> str:
    """$audit_reference from the raw request line (the first route that matches)."""
    routes = "".join(f'        "~{route}" $1;\n' for route in _REFERENCE_ROUTES)
    routes += f'        "~{_UPLOAD_DIGEST}" $algorithm:$hex;\n'
    return f"""    map $request_uri $audit_reference {{
        default "";
{routes}    }}
"""
