"""registry:access at the nginx edge: which user may do what to which repository, as nginx maps.

The edge decides as distribution's own authorization does (registry/handlers/app.go, `authorized`
and `appendAccessRecords`): GET/HEAD pull, POST/PUT/PATCH push (which includes pull), DELETE
delete; a blob mount (`POST .../blobs/uploads/?mount=<digest>&from=<repo>`) also needs pull on
`from` and is refused whole without it, as distribution refuses it; `/v2/_catalog` names every
repository, so only users who may pull every repository list it.

The repository is read from the raw request line (`$request_uri`), which is what the registry
gets (proxy_pass without a URI passes it unchanged), and only in canonical form: a path with
'.', '..', '//', percent-encoding or capitals, or an upload whose query has anything but the
parameters distribution reads, is answered 404 (a form body 400) before any rule is looked at. So a path can never
be matched against one repository's rule and served from another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from components.config.access import IMPLIED, Grant

# the methods of each action, as distribution's appendAccessRecords has them (and OPTIONS, which reads)
PULL_METHODS = ("GET", "HEAD", "OPTIONS")
PUSH_METHODS = ("POST", "PUT", "PATCH")
DELETE_METHODS = ("DELETE",)
# distribution's grammar (reference/regexp.go; the name as components/config/intent.py has it)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
_UPLOAD_ID = r"[A-Za-z0-9_=-][A-Za-z0-9_.=-]*"
# what StartBlobUpload and the access check read (r.FormValue: mount, from, digest) and what
# go-containerregistry adds (origin); keys written plainly, values without '=' or '&'
_UPLOAD_PARAMETER = r"(?:mount|from|digest|origin)=[A-Za-z0-9%._:+~/-]*"
_UPLOAD_QUERY = rf"(?:\?{_UPLOAD_PARAMETER}(?:&{_UPLOAD_PARAMETER})*)?"
_QUERY = r"(?:\?[^#]*)?"
_REPOSITORY_ROUTE = (
    rf"^/v2/({NAME})/(?:manifests/(?:{_TAG}|{_DIGEST}){_QUERY}|blobs/{_DIGEST}{_QUERY}"
    rf"|blobs/uploads/{_UPLOAD_QUERY}|blobs/uploads/{_UPLOAD_ID}{_QUERY}|tags/list{_QUERY}|referrers/{_DIGEST}{_QUERY})$"
)
# the first `from` of the query, as Go's url.Values.Get takes it; still encoded (docker sends team-a%2Fbase)
_MOUNT_SOURCE = r"^/v2/[^?]*/blobs/uploads/\?(?:[^&]*&)*?from=([^&]*)"
_ENCODED_SLASH = "(?:/|%2[Ff])"


def repository_regex(pattern: str, *, encoded: bool = False) -> str:
    """A PCRE for the repository part of a key: `pattern` as components/config/access.py matches it;
    `encoded`: '/' may also come as %2F (a mount's `from`, still URL-encoded)."""
    slash = _ENCODED_SLASH if encoded else "/"
    stem = re.escape(pattern.rstrip("*")).replace("/", slash)
    # still encoded, a source could hide '..' (team-b%2F..%2Fteam-a): no segment of a name starts with '.'
    guard = f"(?!(?:.*{_ENCODED_SLASH})?\\.)" if encoded else ""
    if not pattern.endswith("*"):
        return f"{guard}{stem}$"
    rest = "(?:[a-z0-9._-]|%2[Ff]|/)*" if encoded else "[a-z0-9._/-]*"
    return f"{guard}{stem}{rest}$" if stem else f"{guard}[a-z0-9]{rest}$"


def _grant_lines(grants: Sequence[Grant], *, encoded: bool) -> str:
    """One map line per user and pattern: every action they may take there (push brings pull)."""
    actions: dict[tuple[str, str], set[str]] = {}
    for grant in grants:
        actions.setdefault((grant.principal, grant.pattern), set()).update(IMPLIED[grant.action])
    lines = []
    for (user, pattern), allowed in sorted(actions.items()):
        if encoded and "pull" not in allowed:
            continue
        verbs = "pull" if encoded else "|".join(a for a in ("pull", "push", "delete") if a in allowed)
        lines.append(f'        "~^{re.escape(user)}:(?:{verbs}):{repository_regex(pattern, encoded=encoded)}" 1;\n')
    return "".join(lines)


def catalog_users(grants: Sequence[Grant]) -> list[str]:
    """Users who may pull every repository: the catalog names them all, so only they list it."""
    return sorted({g.principal for g in grants if g.pattern == "*" and "pull" in IMPLIED[g.action]})


def access_maps(grants: Sequence[Grant]) -> str:
    """The http-level maps: $edge_route, $edge_repository, $edge_action, the grants, the verdict."""
    catalog = "".join(f'        "{user}" 1;\n' for user in catalog_users(grants))
    return f"""
    # registry:access (components/renderers/access.py): what the request is, from the raw request line
    map $request_uri $edge_repository {{
        default "";
        "~{_REPOSITORY_ROUTE}" $1;
    }}
    # looked at only when the path names no repository: the long regex runs once per request
    map $request_uri $edge_other_route {{
        default invalid;
        "~^/v2/(?:\\?[^#]*)?$" base;
        "~^/v2/_catalog(?:\\?[^#]*)?$" catalog;
    }}
    map $edge_repository $edge_route {{
        "" $edge_other_route;
        default repository;
    }}
    map $request_uri $edge_mount_source {{
        default "";
        "~{_MOUNT_SOURCE}" $1;
    }}
    # distribution reads upload parameters from a form body too (r.FormValue): the edge could not see them
    map $content_type $edge_form_body {{
        default 0;
        ~*^application/x-www-form-urlencoded 1;
    }}
    map $request_method $edge_action {{
        default other;
        ~^({"|".join(PULL_METHODS)})$ pull;
        ~^({"|".join(PUSH_METHODS)})$ push;
        ~^({"|".join(DELETE_METHODS)})$ delete;
    }}

    # who may do what where: users' own access (pattern *) and each registry:access rule
    map "$remote_user:$edge_action:$edge_repository" $edge_grant {{
        default 0;
{_grant_lines(grants, encoded=False)}    }}
    # a mount's source needs pull too (no `from`: nothing to check)
    map "$remote_user:pull:$edge_mount_source" $edge_source_grant {{
        default 0;
        "~^[^:]*:pull:$" 1;
{_grant_lines(grants, encoded=True)}    }}
    map $remote_user $edge_lists_catalog {{
        default 0;
{catalog}    }}
    map "$edge_route:$edge_grant:$edge_source_grant:$edge_lists_catalog" $edge_refused {{
        default 1;
        ~^base: 0;
        ~^catalog:.:.:1$ 0;
        ~^repository:1:1: 0;
    }}
    map "$edge_route:$edge_grant" $edge_denial {{
        ~^catalog: '"message":"requested access to the resource is denied: $remote_user may not list the catalog (only users who may pull every repository may)","detail":[{{"Type":"registry","Class":"","Name":"catalog","Action":"*"}}]';
        ~^repository:1$ '"message":"requested access to the resource is denied: $remote_user may not pull $edge_mount_source, the source of this mount","detail":[{{"Type":"repository","Class":"","Name":"$edge_mount_source","Action":"pull"}}]';
        default '"message":"requested access to the resource is denied: $remote_user may not $edge_action $edge_repository","detail":[{{"Type":"repository","Class":"","Name":"$edge_repository","Action":"$edge_action"}}]';
    }}
"""


# a path the edge cannot attribute to one repository: answered before any rule is looked at, with
# distribution's own status for a path none of its routes take (404; the OCI conformance suite asks
# for a manifest named `.INVALID_MANIFEST_NAME` and expects it)
INVALID_PATH_BODY = (
    '{"errors":[{"code":"NAME_UNKNOWN","message":"not a registry API path in canonical form: a lowercase '
    "repository name, a valid tag or digest, no . or .. segments, no empty segments, no percent-encoding in "
    'the path, and on an upload only the mount, from, digest and origin parameters"}]}'
)
FORM_BODY_BODY = (
    '{"errors":[{"code":"UNSUPPORTED","message":"a form-encoded body is not taken: the registry would read '
    'upload parameters from it that the edge cannot check; pass them in the query"}]}'
)
DENIED_BODY = '{"errors":[{"code":"DENIED",$edge_denial}]}'
