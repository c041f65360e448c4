// The edge's answer when a pull-through mirror has nothing to give (nginx's njs module, 0.7+).
//
// distribution cannot say why: for a tag, registry/proxy/proxytagservice.go Get falls back to the
// local tag on ANY remote error, so an upstream that refuses the mirror's login reaches the client
// as 404 MANIFEST_UNKNOWN, exactly like an image that does not exist. On a mirror's 404 for a
// manifest (and its 500/502/504) the edge asks the upstream the way distribution's proxy logs in
// (registry/client/auth/session.go: the /v2/ challenge, then Basic on /v2/ or a token from the
// Bearer realm for repository:<name>:pull, with the mirror's credentials) and says which it was.
//
// Per mirror, the named location sets: $mirror_name, $mirror_upstream (https://host[:port]),
// $mirror_login (a file holding the Authorization value, "" when anonymous), $mirror_answer (the
// mirror's status: 404, or 502 for its 500/502/504), $mirror_unanswered (the body for an
// upstream that does not answer) and $mirror_basic ("0" where the mirror is distribution 2.8,
// whose proxy logs in to Bearer realms only: registry/proxy/proxyauth.go getAuthURLs keeps
// bearer challenges, and 3.0 added the Basic handler).
var fs = require('fs');

var PARAMETER = /(\w+)="([^"]*)"/g;
var MANIFEST = /^\/v2\/(.+)\/manifests\/([^\/]+)$/;

function challenge(header) {
    var parameters = {};
    var found;
    PARAMETER.lastIndex = 0;
    while ((found = PARAMETER.exec(header)) !== null) {
        parameters[found[1].toLowerCase()] = found[2];
    }
    return {scheme: header.split(' ')[0].toLowerCase(), parameters: parameters};
}

function loginUrl(upstream, c, repository) {
    if (c.scheme != 'bearer' || !c.parameters.realm) {
        return upstream + '/v2/';
    }
    var realm = c.parameters.realm;
    return realm + (realm.indexOf('?') < 0 ? '?' : '&') + 'service=' + encodeURIComponent(c.parameters.service || '')
        + '&scope=' + encodeURIComponent('repository:' + repository + ':pull');
}

// 'accepted', 'refused' (401/403 to the login), 'basic' (a Basic login the mirror never sends) or
// 'unanswered' (anything else), with what was seen
async function login(upstream, authorization, repository, basic) {
    var probe = await ngx.fetch(upstream + '/v2/');
    if (probe.status != 401) {
        return probe.status < 500 ? {verdict: 'accepted'} : {verdict: 'unanswered', seen: 'HTTP ' + probe.status};
    }
    var c = challenge(probe.headers.get('WWW-Authenticate') || '');
    var url = loginUrl(upstream, c, repository);
    var reply = await ngx.fetch(url, {headers: authorization ? {Authorization: authorization} : {}});
    var seen = 'HTTP ' + reply.status + ' from ' + url.split('?')[0];
    if (reply.status == 401 || reply.status == 403) {
        return {verdict: 'refused', seen: seen};
    }
    if (c.scheme == 'basic' && !basic) {
        return {verdict: 'basic', seen: 'a Basic challenge from ' + upstream + '/v2/'};
    }
    return {verdict: reply.status < 300 ? 'accepted' : 'unanswered', seen: seen};
}

function answer(r, status, body) {
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Docker-Distribution-Api-Version'] = 'registry/2.0';
    r.return(status, typeof body == 'string' ? body : JSON.stringify({errors: [body]}));
}

async function explain(r) {
    var v = r.variables;
    var manifest = MANIFEST.exec(r.uri) || ['', '', ''];
    var authorization = v.mirror_login ? fs.readFileSync(v.mirror_login, 'utf8').trim() : '';
    var found;
    try {
        found = await login(v.mirror_upstream, authorization, manifest[1], v.mirror_basic != '0');
    } catch (e) {
        found = {verdict: 'unanswered', seen: String(e.message || e)};
    }
    if (found.verdict == 'refused') {
        ngx.log(ngx.WARN, 'mirror ' + v.mirror_name + ': upstream refused the credentials: ' + found.seen);
        answer(r, 502, {
            code: 'UNAVAILABLE',
            message: 'mirror ' + v.mirror_name + ': upstream refused the credentials'
                + (authorization ? '' : ' (the mirror has none)'),
            detail: found.seen + '; set the mirror\'s username and accessToken to a login ' + v.mirror_upstream
                + ' accepts (pulumi config set --secret) and run pulumi up; cached images are still served'
        });
    } else if (found.verdict == 'basic') {
        answer(r, 502, {
            code: 'UNAVAILABLE',
            message: 'mirror ' + v.mirror_name + ': distribution 2.8 never sends its login to an upstream that asks for Basic',
            detail: found.seen + '; set registry:version to 3, whose proxy logs in to Basic upstreams too'
        });
    } else if (found.verdict == 'unanswered' || v.mirror_answer != '404') {
        if (found.seen) {
            ngx.log(ngx.WARN, 'mirror ' + v.mirror_name + ': upstream did not answer: ' + found.seen);
        }
        answer(r, 502, v.mirror_unanswered);
    } else {
        answer(r, 404, {
            code: 'MANIFEST_UNKNOWN',
            message: 'manifest unknown',
            detail: 'mirror ' + v.mirror_name + ' has no ' + manifest[1] + (manifest[2].indexOf(':') < 0 ? ':' : '@')
                + manifest[2] + ' and ' + v.mirror_upstream + ' has none either'
        });
    }
}

export default {explain};
