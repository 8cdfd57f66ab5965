# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit report as files people open: ``report.json`` and a self-contained ``report.html``.

Both are rendered from the report ``irsa_audit`` returns (header, ``summary``, ``findings``,
``clusters``, ``api_calls``); nothing here decides what a finding is or how severe it is.

The HTML file is one document with its CSS inline, no script, and nothing that loads from the
network (its Content-Security-Policy forbids it too), so it can be attached to a ticket, archived by
AWX or opened offline. Every value is escaped: cluster, namespace and ServiceAccount names come from
the clusters and may hold anything. It reads on a laptop and on a phone (tables turn into cards on
narrow screens, ARNs wrap) and prints. Severity and verdict are told by words and symbols as well
as by colour.

Text conventions in a finding's ``why`` and ``fix``: text between backticks is shown as code; a
line of ``fix`` that starts with ``$ ``, with a command (``aws``, ``kubectl``, ``eksctl``,
``ansible-playbook``, ...) or with four spaces is shown as a command block, as are the lines that
continue it (after a line ending with a backslash).

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import re
from html import escape

from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA_WARNING

SEVERITIES = ("high", "medium", "low")
VERDICTS = ("broken", "warning", "ok")

# Words and symbols carry the meaning; colour only repeats it.
_SEVERITY_LABELS = {"high": ("\u25b2", "High"), "medium": ("\u25c6", "Medium"), "low": ("\u25cf", "Low")}
_VERDICT_LABELS = {"broken": ("\u2717", "Broken"), "warning": ("!", "Warning"), "ok": ("\u2713", "OK")}

_COMMAND_LINE = re.compile(r"^(?:\$ |    |\t|(?:aws|kubectl|eksctl|ansible-playbook|ansible|helm|terraform)(?:\s|$))")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LONG_IDENT = re.compile(r"(?:arn:|https?://|system:serviceaccount:|oidc\.eks\.)\S+")

_CSS = """
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--card:#fff;
--high:#a40e26;--high-bg:#ffebe9;--medium:#7d4e00;--medium-bg:#fff8c5;--low:#0550ae;--low-bg:#ddf4ff;
--ok:#116329;--ok-bg:#dafbe1}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 24px 48px}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 4px}
h2{font-size:1.3rem;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:1.1rem;margin:0}
p{margin:0 0 8px}
code,pre{font:13px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
code{overflow-wrap:anywhere;word-break:break-word}
p code,li code{background:#eef1f4;border-radius:4px;padding:1px 4px}
a{color:#0550ae}
.meta{color:var(--muted);margin:0 0 16px;display:flex;flex-wrap:wrap;gap:4px 18px}
.meta b{color:var(--ink);font-weight:600}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin:0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.tile .n{display:block;font-size:1.6rem;font-weight:700;line-height:1.2}
.tile .l{color:var(--muted);font-size:.9rem}
.tile.quota-near{border:2px solid var(--medium);background:var(--medium-bg)}
.tile.quota-over{border:2px solid var(--high);background:var(--high-bg)}
.tile .note{display:block;font-size:.85rem;font-weight:600}
.quota-near .note{color:var(--medium)}
.quota-over .note{color:var(--high)}
.label{color:var(--muted);font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;margin:16px 0 6px}
.counts{display:grid;grid-template-columns:repeat(3,1fr);gap:10px;margin:0;padding:0;list-style:none}
.count{display:block;border:1px solid var(--line);border-left-width:6px;border-radius:8px;padding:8px 14px;
text-decoration:none;color:var(--ink);background:var(--card)}
.count .l{display:block;font-weight:700}
.count .n{display:block;font-size:1.9rem;font-weight:700;line-height:1.15}
a.count:hover .l{text-decoration:underline}
.c-high{border-color:var(--high);background:var(--high-bg)}
.c-high .l,.c-high .n{color:var(--high)}
.c-medium{border-color:#bf8700;background:var(--medium-bg)}
.c-medium .l,.c-medium .n{color:var(--medium)}
.c-low{border-color:var(--low);background:var(--low-bg)}
.c-low .l,.c-low .n{color:var(--low)}
.c-none .l,.c-none .n{color:var(--muted)}
.band{display:flex;align-items:baseline;gap:8px;flex-wrap:wrap;font-size:1.15rem;margin:24px 0 10px;
padding:6px 12px;border-radius:6px;border-left:6px solid}
.b-high{color:var(--high);background:var(--high-bg)}
.b-medium{color:var(--medium);background:var(--medium-bg);border-left-color:#bf8700}
.b-low{color:var(--low);background:var(--low-bg)}
.b-other{color:var(--ink);background:#eaeef2}
.band .kind{font-weight:400}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-weight:700;font-size:.85rem;
white-space:nowrap;border:1px solid currentColor}
.sev-high{color:var(--high);background:var(--high-bg)}
.sev-medium{color:var(--medium);background:var(--medium-bg)}
.sev-low{color:var(--low);background:var(--low-bg)}
.sev-other{color:var(--ink);background:#eaeef2}
.v-broken{color:var(--high);background:var(--high-bg)}
.v-warning{color:var(--medium);background:var(--medium-bg)}
.v-ok{color:var(--ok);background:var(--ok-bg)}
.v-other{color:var(--ink);background:#eaeef2}
.finding{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--line);
border-radius:8px;padding:14px 16px;margin:0 0 12px;break-inside:avoid}
.finding.f-high{border-left-color:var(--high)}
.finding.f-medium{border-left-color:#bf8700}
.finding.f-low{border-left-color:var(--low)}
.finding h4{font-size:1.05rem;margin:0 0 6px}
.finding dl{display:grid;grid-template-columns:7.5em 1fr;gap:6px 12px;margin:8px 0 0}
.finding dt{color:var(--muted);font-weight:600}
.finding dd{margin:0;min-width:0;overflow-wrap:anywhere}
.finding ul{margin:0;padding-left:1.1em}
.kind{color:var(--muted);font-size:.9rem}
pre.cmd{background:#1b1f24;color:#f0f3f6;border-radius:6px;padding:8px 12px;margin:4px 0 8px;
white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
.empty{background:var(--ok-bg);color:var(--ok);border:1px solid var(--ok);border-radius:8px;
padding:12px 16px;font-weight:600}
.cluster{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:0 0 20px}
.cluster-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 12px;margin-bottom:6px}
.cluster .facts{color:var(--muted);font-size:.9rem;margin:0 0 10px}
.cluster .facts div{overflow-wrap:anywhere}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:8px 10px;border-top:1px solid var(--line)}
th{font-size:.85rem;color:var(--muted);border-top:0;white-space:nowrap}
td{min-width:0}
caption{text-align:left;color:var(--muted);font-size:.85rem;padding:0 0 4px}
td code{overflow-wrap:break-word}
td.sa{min-width:11em}
td.role{min-width:19em}
tr.row-broken td{background:#fff5f5}
tr.row-warning td{background:#fffdf0}
.msg{margin-top:4px;overflow-wrap:anywhere}
.pods{margin-top:4px;font-size:.9rem}
.pods b{color:var(--medium)}
footer{color:var(--muted);font-size:.85rem;margin-top:40px;border-top:1px solid var(--line);padding-top:10px}
@media (max-width:640px){
main{padding:14px 12px 32px}
h1{font-size:1.3rem}
h2{font-size:1.15rem;margin-top:28px}
.tiles{grid-template-columns:repeat(3,1fr);gap:6px}
.tile{padding:8px 10px}
.tile .n{font-size:1.4rem}
.tile .l{font-size:.8rem}
.tile.providers{grid-column:1/-1}
.counts{gap:6px}
.count{padding:6px 10px}
.count .n{font-size:1.5rem}
.finding{padding:12px}
.finding dl{grid-template-columns:1fr;gap:2px}
.finding dd{margin-bottom:6px}
.cluster{padding:12px}
table,tbody,tr,td,caption{display:block;width:auto}
thead{display:none}
tr{border-top:1px solid var(--line);padding:8px 0}
td{border:0;padding:2px 0}
td.sa,td.role{min-width:0}
td code{overflow-wrap:anywhere}
td::before{content:attr(data-label);display:block;font-size:.8rem;font-weight:600;color:var(--muted)}
tr.row-broken,tr.row-warning{padding-left:12px;padding-right:4px}
tr.row-broken{background:#fff5f5;box-shadow:inset 4px 0 0 var(--high)}
tr.row-warning{background:#fffdf0;box-shadow:inset 4px 0 0 #bf8700}
tr.row-broken td,tr.row-warning td{background:none}
}
@media print{
body{background:#fff;font-size:11pt}
main{max-width:none;padding:0}
.finding,.cluster,.tile{border-color:#999}
pre.cmd{background:#fff;color:#000;border:1px solid #999}
.table-wrap{overflow:visible}
tr{break-inside:avoid}
h2,h3{break-after:avoid}
a{color:inherit;text-decoration:none}
}
"""


def render_json(report):
    """The report as ``report.json``: sorted keys, two-space indent, a final newline."""
    return json.dumps(report, sort_keys=True, indent=2) + "\n"


def render_html(report):
    """The report as one self-contained HTML document (a string)."""
    report = report or {}
    account = report.get("account")
    title = "IRSA audit \u2014 account {0}".format(_text(account)) if account else "IRSA audit"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="referrer" content="no-referrer">',
        "<title>{0}</title>".format(title),
        "<style>{0}</style>".format(_CSS),
        "</head>",
        "<body>",
        "<main>",
        _header(report, title),
        _findings_section(report.get("findings") or []),
        _clusters_section(report.get("clusters") or []),
        _footer(report),
        "</main>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _text(value):
    """A value as escaped text; missing values as an em dash."""
    if value is None or value == "":
        return "\u2014"
    return escape(str(value), quote=True)


def _ident(value):
    """An identifier (ARN, URL, name) as escaped text that may wrap after its separators."""
    return _wrap_points(_text(value))


def _wrap_points(escaped):
    """Escaped text with a line-break opportunity after each ``/`` and ``:`` (entities hold neither)."""
    return escaped.replace("/", "/<wbr>").replace(":", ":<wbr>")


def _number(value):
    return _text(value if value is not None else 0)


def _inline(value):
    """Escaped prose with `backticked` spans as code; ARNs and URLs in it may wrap after separators."""
    if value is None or value == "":
        return ""
    parts = _INLINE_CODE.split(str(value))
    out = []
    for index, part in enumerate(parts):
        html = _LONG_IDENT.sub(lambda match: _wrap_points(match.group(0)), escape(part))
        out.append("<code>{0}</code>".format(html) if index % 2 else html)
    return "".join(out)


def _prose(value):
    """Escaped paragraphs (blank lines separate them; single newlines become line breaks)."""
    text = "" if value is None else str(value).strip()
    if not text:
        return "<p>\u2014</p>"
    paragraphs = re.split(r"\n\s*\n", text)
    return "".join("<p>{0}</p>".format(_inline(p).replace("\n", "<br>")) for p in paragraphs)


def _fix_blocks(value):
    """The fix: prose as paragraphs, command lines as code blocks."""
    text = "" if value is None else str(value).strip("\n")
    if not text.strip():
        return "<p>\u2014</p>"
    blocks = []  # [is_command, [lines]]
    continued = False
    for line in text.split("\n"):
        is_command = continued or bool(_COMMAND_LINE.match(line))
        continued = is_command and line.rstrip().endswith("\\")
        if not is_command and not line.strip():
            blocks.append([False, []])
            continue
        if blocks and blocks[-1][0] == is_command:
            blocks[-1][1].append(line)
        else:
            blocks.append([is_command, [line]])
    out = []
    for is_command, lines in blocks:
        if not lines:
            continue
        if is_command:
            out.append('<pre class="cmd"><code>{0}</code></pre>'.format(escape("\n".join(_dedent(lines)))))
        else:
            out.append("<p>{0}</p>".format("<br>".join(_inline(line.strip()) for line in lines)))
    return "".join(out)


def _dedent(lines):
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return [line[indent:] for line in lines]


def _severity_badge(severity):
    symbol, label = _SEVERITY_LABELS.get(severity, ("\u25cb", str(severity or "unknown").capitalize()))
    css = severity if severity in SEVERITIES else "other"
    return '<span class="badge sev-{0}"><span aria-hidden="true">{1}</span> {2}</span>'.format(css, symbol, _text(label))


def _verdict_badge(verdict):
    symbol, label = _VERDICT_LABELS.get(verdict, ("?", str(verdict or "unknown").capitalize()))
    css = verdict if verdict in VERDICTS else "other"
    return '<span class="badge v-{0}"><span aria-hidden="true">{1}</span> {2}</span>'.format(css, symbol, _text(label))


def _header(report, title):
    summary = report.get("summary") or {}
    counts = summary.get("findings") or {}
    meta = [
        ("Partition", report.get("partition")),
        ("Region", report.get("region")),
        ("Generated", report.get("generated_at")),
    ]
    tiles = [
        _tile(summary.get("clusters"), "clusters"),
        _tile(summary.get("service_accounts"), "ServiceAccounts"),
        _tile(summary.get("roles"), "IAM roles"),
        _provider_tile(summary.get("oidc_providers") or {}),
    ]
    severity_counts = []
    for severity in SEVERITIES:
        symbol, label = _SEVERITY_LABELS[severity]
        count = counts.get(severity) or 0
        tile = '<span class="l"><span aria-hidden="true">{0}</span> {1}</span> <span class="n">{2}</span>'.format(symbol, label, _number(count))
        if count:
            severity_counts.append('<li><a class="count c-{0}" href="#findings-{0}">{1}</a></li>'.format(severity, tile))
        else:
            severity_counts.append('<li><span class="count c-none">{0}</span></li>'.format(tile))
    return "".join([
        "<header>",
        "<h1>{0}</h1>".format(title),
        '<div class="meta">{0}</div>'.format("".join(
            "<span>{0} <b>{1}</b></span>".format(label, _text(value)) for label, value in meta)),
        '<section aria-label="Totals">',
        '<p class="label">Findings by severity</p><ul class="counts">{0}</ul>'.format("".join(severity_counts)),
        '<p class="label">Inventory</p><div class="tiles">{0}</div>'.format("".join(tiles)),
        "</section>",
        "</header>",
    ])


def _tile(value, label):
    return '<div class="tile"><span class="n">{0}</span> <span class="l">{1}</span></div>'.format(_number(value), label)


def _provider_tile(providers):
    count = providers.get("count")
    limit = providers.get("limit") or OIDC_PROVIDER_QUOTA
    unused = providers.get("unused")
    css, note = "", ""
    if isinstance(count, int):
        if count >= limit:
            css, note = "quota-over", "\u25b2 at IAM's limit: new clusters cannot get a provider"
        elif count * OIDC_PROVIDER_QUOTA >= limit * OIDC_PROVIDER_QUOTA_WARNING:
            css, note = "quota-near", "\u25b2 near IAM's limit"
    details = "OIDC providers of {0} allowed".format(_number(limit))
    if unused:
        details += ", {0} unused".format(_number(unused))
    if note:
        details += ' <span class="note">{0}</span>'.format(note)
    return '<div class="tile providers{0}"><span class="n">{1} / {2}</span> <span class="l">{3}</span></div>'.format(
        (" " + css) if css else "", _number(count), _number(limit), details)


def _findings_section(findings):
    out = ['<section id="findings" aria-labelledby="findings-title">', '<h2 id="findings-title">Findings</h2>']
    if not findings:
        out.append('<p class="empty"><span aria-hidden="true">\u2713</span> No findings.</p>')
        out.append("</section>")
        return "".join(out)
    groups = {}
    for finding in findings:
        groups.setdefault(finding.get("severity"), []).append(finding)
    order = list(SEVERITIES) + sorted((s for s in groups if s not in SEVERITIES), key=str)
    for severity in order:
        group = groups.get(severity)
        if not group:
            continue
        anchor = severity if severity in SEVERITIES else "other"
        out.append('<section class="severity" id="findings-{0}">'.format(anchor))
        symbol, label = _SEVERITY_LABELS.get(severity, ("\u25cb", str(severity or "unknown").capitalize()))
        out.append('<h3 class="band b-{0}"><span aria-hidden="true">{1}</span> {2} severity <span class="kind">({3} finding{4})</span></h3>'.format(
            anchor, symbol, _text(label), len(group), "" if len(group) == 1 else "s"))
        out.extend(_finding(finding, severity) for finding in group)
        out.append("</section>")
    out.append("</section>")
    return "".join(out)


def _finding(finding, severity):
    css = severity if severity in SEVERITIES else "other"
    resources = finding.get("resources") or []
    if resources:
        resources_html = "<ul>{0}</ul>".format("".join("<li><code>{0}</code></li>".format(_ident(r)) for r in resources))
    else:
        resources_html = "\u2014"
    cluster = finding.get("cluster")
    return "".join([
        '<article class="finding f-{0}">'.format(css),
        "<h4>{0}</h4>".format(_text(finding.get("title") or finding.get("kind"))),
        '<div>{0} <span class="kind">kind <code>{1}</code></span></div>'.format(_severity_badge(severity), _text(finding.get("kind"))),
        "<dl>",
        "<dt>Cluster</dt><dd>{0}</dd>".format(_text(cluster) if cluster else "Account-wide"),
        "<dt>Resources</dt><dd>{0}</dd>".format(resources_html),
        "<dt>Why</dt><dd>{0}</dd>".format(_prose(finding.get("why"))),
        "<dt>Fix</dt><dd>{0}</dd>".format(_fix_blocks(finding.get("fix"))),
        "</dl>",
        "</article>",
    ])


def _verdict_rank(verdict):
    return {"broken": 0, "warning": 1, "ok": 3}.get(verdict, 2)


def _clusters_section(clusters):
    out = ['<section id="clusters" aria-labelledby="clusters-title">', '<h2 id="clusters-title">Clusters</h2>']
    if not clusters:
        out.append("<p>No cluster was audited.</p>")
    for index, cluster in enumerate(clusters, start=1):
        out.append(_cluster(cluster, index))
    out.append("</section>")
    return "".join(out)


def _cluster(cluster, index):
    service_accounts = cluster.get("service_accounts") or []
    tally = {}
    for sa in service_accounts:
        tally[sa.get("verdict")] = tally.get(sa.get("verdict"), 0) + 1
    tally_text = ", ".join("{0} {1}".format(tally[v], _text(v)) for v in sorted(tally, key=lambda v: (_verdict_rank(v), str(v))))
    if cluster.get("provider_exists") is False:
        provider = '<span class="badge v-broken"><span aria-hidden="true">\u2717</span> OIDC provider missing</span>'
    elif cluster.get("provider_exists"):
        provider = '<span class="badge v-ok"><span aria-hidden="true">\u2713</span> OIDC provider exists</span>'
    else:
        provider = ""
    out = [
        '<article class="cluster" id="cluster-{0}">'.format(index),
        '<div class="cluster-head"><h3>Cluster {0}</h3>{1}</div>'.format(_text(cluster.get("name")), provider),
        '<div class="facts">',
        "<div>Issuer <code>{0}</code></div>".format(_ident(cluster.get("issuer"))),
        "<div>Provider <code>{0}</code></div>".format(_ident(cluster.get("provider_arn"))),
        "<div>{0} ServiceAccount{1} with an IRSA role{2}</div>".format(
            len(service_accounts), "" if len(service_accounts) == 1 else "s", ": " + tally_text if tally_text else ""),
        "</div>",
    ]
    if not service_accounts:
        out.append("<p>No ServiceAccount in this cluster names an IAM role.</p>")
    else:
        rows = sorted(service_accounts, key=lambda sa: (_verdict_rank(sa.get("verdict")), str(sa.get("namespace")), str(sa.get("name"))))
        out.append('<div class="table-wrap"><table>')
        out.append("<caption>ServiceAccount \u2192 IAM role \u2192 verdict, problems first</caption>")
        out.append('<thead><tr><th scope="col">ServiceAccount</th><th scope="col">IAM role</th><th scope="col">Verdict</th></tr></thead><tbody>')
        out.extend(_service_account_row(sa) for sa in rows)
        out.append("</tbody></table></div>")
    out.append("</article>")
    return "".join(out)


def _service_account_row(sa):
    verdict = sa.get("verdict")
    css = verdict if verdict in VERDICTS else "other"
    cell = [_verdict_badge(verdict)]
    if sa.get("message"):
        cell.append('<div class="msg">{0}</div>'.format(_inline(sa.get("message"))))
    pods = sa.get("pods_to_restart") or []
    if pods:
        cell.append('<div class="pods"><b>Pods to restart ({0}):</b> {1}</div>'.format(
            len(pods), ", ".join("<code>{0}</code>".format(_text(pod)) for pod in pods)))
    return "".join([
        '<tr class="row-{0}">'.format(css),
        '<td class="sa" data-label="ServiceAccount"><code>{0}/<wbr>{1}</code></td>'.format(_text(sa.get("namespace")), _text(sa.get("name"))),
        '<td class="role" data-label="IAM role"><code>{0}</code></td>'.format(_ident(sa.get("role_arn"))),
        '<td class="verdict" data-label="Verdict">{0}</td>'.format("".join(cell)),
        "</tr>",
    ])


def _footer(report):
    calls = report.get("api_calls") or {}
    names = {"iam": "IAM", "eks": "EKS", "kubernetes": "Kubernetes", "sts": "STS"}
    listed = ", ".join("{0} {1}".format(_text(names.get(k, k)), _number(calls[k])) for k in sorted(calls))
    return "<footer><p>Read-only audit by the eks.irsa collection (irsa_audit){0}. Generated {1}.</p></footer>".format(
        "; API calls: " + listed if listed else "", _text(report.get("generated_at")))
