# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit report files: what a reader of report.html sees, and report.json.

The HTML is parsed with html.parser into a small tree, and the tests look at it as a reader would:
the sections, their order, the words and the commands in them, and that nothing in it loads from the
network or runs.

Run as a script, this file writes the sample report's HTML to the path given, to look at it in a
browser (from the checkout, after ``make collection``)::

    PYTHONPATH=.build/collections .venv/bin/python tests/unit/plugins/module_utils/test_audit_report.py report.html
"""

import copy
import json
import re
import sys
from html.parser import HTMLParser

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import audit_run
from ansible_collections.eks.irsa.plugins.module_utils.audit_report import render_html
from ansible_collections.eks.irsa.plugins.module_utils.audit_report import render_json

ACCOUNT = "123456789012"
INJECTED = '<script>alert("sa")</script>'
INJECTED_MESSAGE = "role missing <img src=x onerror=alert(1)> & more"


def _issuer(oidc_id):
    return "https://oidc.eks.us-east-1.amazonaws.com/id/" + oidc_id


def _provider_arn(oidc_id):
    return "arn:aws:iam::{0}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/{1}".format(ACCOUNT, oidc_id)


def _role_arn(name):
    return "arn:aws:iam::{0}:role/{1}".format(ACCOUNT, name)


BLUE_ID = "B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
GREEN_ID = "0123456789ABCDEF0123456789ABCDEF"
LEGACY_ID = "EXAMPLED539D4633E53DE1B716D3041E"
GONE_ID = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"


def _finding(kind, severity, title, cluster, resources, why, fix):
    return {"kind": kind, "severity": severity, "title": title, "cluster": cluster, "resources": resources, "why": why, "fix": fix}


def sample_findings():
    """Every kind of finding, every severity, fixes with and without commands."""
    return [
        _finding(
            "provider-missing", "high", "Role trusts an OIDC provider that does not exist", None,
            [_role_arn("platform/team-payments/payments-ledger-reconciliation-worker"), _provider_arn(GONE_ID)],
            "No token can match this trust: every pod using the role fails to get credentials.",
            "Point the trust at the cluster's current provider:\n"
            "$ ansible-playbook eks.irsa.repoint -e irsa_old_cluster=old -e irsa_new_cluster=blue",
        ),
        _finding(
            "cluster-missing", "medium", "Role trusts the OIDC provider of a deleted cluster", None,
            [_role_arn("billing-exporter"), _provider_arn(LEGACY_ID)],
            "The provider outlived its cluster (`legacy`); the trust is dead weight and a risk if the id is reused.",
            "Remove the statement for the deleted cluster from the role's trust, then delete the provider.",
        ),
        _finding(
            "provider-unused", "low", "OIDC provider no cluster uses", None,
            [_provider_arn(GONE_ID)],
            "Each account may hold 100 OIDC providers; unused ones count against that limit.",
            "aws iam delete-open-id-connect-provider \\\n"
            "    --open-id-connect-provider-arn " + _provider_arn(GONE_ID),
        ),
        _finding(
            "provider-unused", "low", "OIDC provider no cluster uses", None,
            [_provider_arn("FEEDFACEFEEDFACEFEEDFACEFEEDFACE")],
            "Each account may hold 100 OIDC providers; unused ones count against that limit.",
            "aws iam delete-open-id-connect-provider --open-id-connect-provider-arn " + _provider_arn("FEEDFACEFEEDFACEFEEDFACEFEEDFACE"),
        ),
        _finding(
            "trust-no-audience", "medium", "Trust statement without an audience condition", "blue",
            [_role_arn("shop-api")],
            "Without `aud`, tokens minted for any audience of the cluster can assume the role.",
            "Add `StringEquals` on `oidc.eks.us-east-1.amazonaws.com/id/{0}:aud` = `sts.amazonaws.com`, "
            "or let eks.irsa.irsa_role rewrite the statement.".format(BLUE_ID),
        ),
        _finding(
            "trust-star-equals", "medium", "Wildcard under StringEquals matches nothing", "green",
            [_role_arn("reports-batch")],
            "`*` is a literal character under StringEquals: no ServiceAccount can assume this role.",
            "Move the subject under `StringLike`, or name the ServiceAccounts one by one.",
        ),
        _finding(
            "trust-too-broad", "high", "Trust allows every ServiceAccount of a namespace", "blue",
            [_role_arn("admin-tools")],
            "`system:serviceaccount:tools:*` lets any ServiceAccount created in `tools` use admin rights; "
            "so does 'system:serviceaccount:tools:*' & \"arn:aws:iam::123456789012:role/x\" <b>.",
            "Name the ServiceAccounts that need the role:\n"
            "kubectl -n tools get serviceaccounts\n"
            "then list them in the binding's `service_accounts` and run the role again.",
        ),
        _finding(
            "subject-unknown", "low", "Role trusts a ServiceAccount that exists in no cluster", "green",
            [_role_arn("old-worker"), "system:serviceaccount:jobs:old-worker"],
            "A ServiceAccount created later with this name would silently get the role.",
            "Remove the subject with eks.irsa.irsa_prune, or delete the role if nothing uses it.",
        ),
        _finding(
            "annotation-role-missing", "high", "ServiceAccount annotation names a role that does not exist", "legacy",
            ["legacy/shop/" + INJECTED, _role_arn("deleted-role")],
            "Pods of this ServiceAccount get a token for a role STS cannot find: every AWS call fails.",
            "Create the role, or point the annotation at an existing one.",
        ),
        _finding(
            "pods-to-restart", "medium", "Pods predate the role annotation", "blue",
            ["pod/shop/api-6d9f7c8b5-x2kq9", "pod/shop/api-6d9f7c8b5-p8w4z"],
            "The webhook injects credentials only when a pod is created; these pods run without them.",
            "$ kubectl -n shop rollout restart deployment/api",
        ),
        _finding(
            "binding-broken", "high", "ServiceAccount cannot assume its role", "green",
            [_role_arn("checkout"), "system:serviceaccount:shop:checkout"],
            "The role's trust names another cluster's provider.",
            "Run the role for this binding again; it adds the statement for this cluster.",
        ),
        _finding(
            "binding-broken", "high", "ServiceAccount cannot assume its role", "legacy",
            [_role_arn("ledger"), "system:serviceaccount:shop:ledger"],
            "The cluster's OIDC provider is missing, so no ServiceAccount of it can assume any role.",
            "Create the provider:\n$ ansible-playbook eks.irsa.site -e irsa_cluster=legacy --tags provider",
        ),
    ]


def _sa(namespace, name, role, verdict, message="", pods=()):
    return {"namespace": namespace, "name": name, "role_arn": _role_arn(role) if role else None,
            "verdict": verdict, "message": message, "pods_to_restart": list(pods)}


def sample_clusters():
    return [
        {
            "name": "blue", "issuer": _issuer(BLUE_ID), "provider_arn": _provider_arn(BLUE_ID), "provider_exists": True,
            "service_accounts": [
                _sa("shop", "web", "shop-web", "ok"),
                _sa("shop", "api", "shop-api", "warning", "The trust has no `aud` condition.",
                    ["api-6d9f7c8b5-x2kq9", "api-6d9f7c8b5-p8w4z"]),
                _sa("tools", "admin", "admin-tools", "warning", "The trust allows every ServiceAccount of namespace tools."),
                _sa("payments", "ledger-reconciliation-worker", "platform/team-payments/payments-ledger-reconciliation-worker", "broken",
                    "The role trusts " + _provider_arn(GONE_ID) + ", which does not exist."),
                _sa("kube-system", "aws-load-balancer-controller", "blue-aws-load-balancer-controller", "ok"),
                _sa("kube-system", "ebs-csi-controller-sa", "blue-ebs-csi-driver", "ok"),
            ],
        },
        {
            "name": "green", "issuer": _issuer(GREEN_ID), "provider_arn": _provider_arn(GREEN_ID), "provider_exists": True,
            "service_accounts": [
                _sa("shop", "checkout", "checkout", "broken", "The role's trust does not name this cluster's provider."),
                _sa("reports", "batch", "reports-batch", "broken", "`*` under StringEquals matches no ServiceAccount."),
                _sa("shop", "web", "shop-web", "ok"),
                _sa("monitoring", "prometheus", "green-amp-ingest", "ok"),
            ],
        },
        {
            "name": "legacy", "issuer": _issuer(LEGACY_ID), "provider_arn": _provider_arn(LEGACY_ID), "provider_exists": False,
            "service_accounts": [
                _sa("shop", "ledger", "ledger", "broken", "The cluster's OIDC provider does not exist."),
                _sa("shop", INJECTED, "deleted-role", "broken", INJECTED_MESSAGE),
                _sa("default", "reader", "legacy-reader", "warning", "Pods predate the annotation.", ["reader-0"]),
            ],
        },
    ]


def sample_report():
    """A report as irsa_audit returns it: 3 clusters, every kind and severity of finding."""
    findings = sample_findings()
    clusters = sample_clusters()
    counts = {"high": 0, "medium": 0, "low": 0}
    for finding in findings:
        counts[finding["severity"]] += 1
    return {
        "generated_at": "2026-11-30T07:00:00Z", "account": ACCOUNT, "partition": "aws", "region": "us-east-1",
        "summary": {
            "clusters": len(clusters),
            "service_accounts": sum(len(c["service_accounts"]) for c in clusters),
            "roles": 16,
            "findings": counts,
            "oidc_providers": {"count": 96, "limit": 100, "unused": 2},
        },
        "findings": findings,
        "clusters": clusters,
        "api_calls": {"iam": 21, "eks": 4, "kubernetes": 9},
    }


def empty_report():
    return {
        "generated_at": "2026-11-30T07:00:00Z", "account": ACCOUNT, "partition": "aws", "region": "us-east-1",
        "summary": {"clusters": 0, "service_accounts": 0, "roles": 0, "findings": {"high": 0, "medium": 0, "low": 0},
                    "oidc_providers": {"count": 0, "limit": 100, "unused": 0}},
        "findings": [], "clusters": [], "api_calls": {"iam": 2, "eks": 1, "kubernetes": 0},
    }


# --- a small DOM from html.parser ----------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
INVISIBLE = {"head", "style", "script", "title"}
BLOCKS = {"article", "caption", "dd", "div", "dl", "dt", "footer", "h1", "h2", "h3", "h4", "header", "li", "p", "pre",
          "section", "table", "td", "th", "tr", "ul"}


class Node(object):
    def __init__(self, tag, attrs, parent=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.children = []
        self.parent = parent

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag=None, cls=None):
        return [n for n in self.iter() if n is not self and (tag is None or n.tag == tag) and (cls is None or cls in n.classes)]

    def find(self, tag=None, cls=None):
        found = self.find_all(tag, cls)
        assert found, "no <{0} class={1}> under <{2}>".format(tag, cls, self.tag)
        return found[0]

    def raw_text(self):
        if self.tag in INVISIBLE:
            return ""
        out = []
        for child in self.children:
            if not isinstance(child, Node):
                out.append(child)
            elif child.tag == "br":
                out.append("\n")
            elif child.tag in BLOCKS:
                out.append("\n" + child.raw_text() + "\n")
            else:
                out.append(child.raw_text())
        return "".join(out)

    def text(self):
        """What a reader sees, whitespace collapsed."""
        return re.sub(r"\s+", " ", self.raw_text()).strip()


class DomBuilder(HTMLParser):
    """A strict tree builder: a closing tag that does not match the open element is an error."""

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, attrs, self.stack[-1]))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, "</{0}> closes <{1}>".format(tag, self.stack[-1].tag)
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(document):
    builder = DomBuilder()
    builder.feed(document)
    builder.close()
    assert builder.stack == [builder.root], "unclosed: " + ", ".join(n.tag for n in builder.stack[1:])
    return builder


@pytest.fixture(scope="module")
def sample():
    return sample_report()


@pytest.fixture(scope="module")
def page(sample):
    return parse(render_html(sample))


@pytest.fixture(scope="module")
def body(page):
    return page.root.find("body")


def _by_heading(nodes, heading_tag, text):
    matches = [n for n in nodes if n.find(heading_tag).text() == text]
    assert len(matches) == 1, "{0} elements headed {1!r}".format(len(matches), text)
    return matches[0]


# --- the document as a whole ---------------------------------------------------------------------

def test_a_complete_html5_document(page):
    assert page.doctype.lower() == "doctype html"
    html = page.root.find("html")
    assert html.attrs.get("lang") == "en"
    head = html.find("head")
    assert any(m.attrs.get("charset") == "utf-8" for m in head.find_all("meta"))
    assert any(m.attrs.get("name") == "viewport" and "width=device-width" in m.attrs.get("content", "") for m in head.find_all("meta"))
    assert "".join(head.find("title").children) == "IRSA audit \u2014 account " + ACCOUNT


@pytest.mark.parametrize("report", [sample_report(), empty_report()], ids=["sample", "empty"])
def test_nothing_loads_from_the_network_and_nothing_runs(report):
    document = render_html(report)
    page = parse(document)
    nodes = list(page.root.iter())
    assert not [n.tag for n in nodes if n.tag in ("script", "link", "img", "iframe", "object", "embed", "audio", "video", "source", "base", "form")]
    for node in nodes:
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)
            assert name not in ("src", "srcset", "action", "formaction", "poster", "data", "background"), (node.tag, name)
            if name == "href":
                assert value.startswith("#"), value
            if name == "style":
                assert "url(" not in value
    style = "".join(c for s in page.root.find_all("style") for c in s.children if isinstance(c, str))
    assert style and "url(" not in style and "@import" not in style and "@font-face" not in style
    policy = [m.attrs["content"] for m in page.root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0]


def test_injected_markup_is_shown_as_text(body):
    document = render_html(sample_report())
    assert "<script" not in document.lower() and "<img" not in document.lower()
    legacy = _by_heading(body.find_all("article", "cluster"), "h3", "Cluster legacy")
    sa_cells = [td.text() for td in legacy.find_all("td", "sa")]
    assert "shop/" + INJECTED in sa_cells
    assert INJECTED_MESSAGE in legacy.text()
    finding = _by_heading(body.find_all("article", "finding"), "h4", "ServiceAccount annotation names a role that does not exist")
    assert "legacy/shop/" + INJECTED in [c.text() for c in finding.find_all("code")]


# --- header ---------------------------------------------------------------------------------------

def test_header_says_where_when_and_how_much(body, sample):
    header = body.find("header")
    text = header.text()
    assert header.find("h1").text() == "IRSA audit \u2014 account " + ACCOUNT
    for expected in ("Partition aws", "Region us-east-1", "Generated 2026-11-30T07:00:00Z"):
        assert expected in text
    tiles = [t.text() for t in header.find_all("div", "tile")]
    assert tiles[:3] == ["3 clusters", "13 ServiceAccounts", "16 IAM roles"]
    assert tiles[3] == "96 / 100 OIDC providers of 100 allowed, 2 unused \u25b2 near IAM's limit"
    counts = [li.text() for li in header.find("ul", "counts").find_all("li")]
    assert counts == ["\u25b2 High 5", "\u25c6 Medium 4", "\u25cf Low 3"]
    assert [a.attrs["href"] for a in header.find("ul", "counts").find_all("a")] == ["#findings-high", "#findings-medium", "#findings-low"]
    assert [s.attrs["id"] for s in body.find_all("section", "severity")] == ["findings-high", "findings-medium", "findings-low"]


@pytest.mark.parametrize("count, limit, css, note", [
    (7, 100, None, None),
    (89, 100, None, None),
    (90, 100, "quota-near", "near IAM's limit"),
    (96, 100, "quota-near", "near IAM's limit"),
    (100, 100, "quota-over", "at IAM's limit"),
    (104, 100, "quota-over", "at IAM's limit"),
    (96, 200, None, None),
])
def test_oidc_provider_count_against_the_limit(count, limit, css, note):
    report = sample_report()
    report["summary"]["oidc_providers"] = {"count": count, "limit": limit, "unused": 3}
    tile = parse(render_html(report)).root.find_all("div", "tile")[3]
    text = tile.text()
    assert text.startswith("{0} / {1} OIDC providers of {1} allowed, 3 unused".format(count, limit))
    if note:
        assert css in tile.classes and note in text
    else:
        assert "quota-near" not in tile.classes and "quota-over" not in tile.classes and "limit" not in text.replace("allowed", "")


# --- findings -------------------------------------------------------------------------------------

def test_findings_grouped_by_severity_in_order_with_counts(body, sample):
    sections = body.find_all("section", "severity")
    assert [s.attrs["id"] for s in sections] == ["findings-high", "findings-medium", "findings-low"]
    headings = [s.find("h3").text() for s in sections]
    assert headings == ["\u25b2 High severity (5 findings)", "\u25c6 Medium severity (4 findings)", "\u25cf Low severity (3 findings)"]
    for section, severity in zip(sections, ("high", "medium", "low")):
        titles = [a.find("h4").text() for a in section.find_all("article", "finding")]
        assert titles == [f["title"] for f in sample["findings"] if f["severity"] == severity]
        for article in section.find_all("article", "finding"):
            assert article.find("span", "badge").text() == section.find("span", "badge").text()


def test_every_kind_of_finding_is_in_the_sample():
    kinds = {f["kind"] for f in sample_findings()}
    assert kinds == {"provider-missing", "cluster-missing", "provider-unused", "trust-no-audience", "trust-star-equals",
                     "trust-too-broad", "subject-unknown", "annotation-role-missing", "pods-to-restart", "binding-broken"}


def _fix_lines(fix):
    """The sample's fixes, split as a reader should see them: (command lines, prose lines)."""
    commands, prose, continued = [], [], False
    for line in fix.split("\n"):
        if continued or re.match(r"^(\$ |aws |kubectl |ansible-playbook )", line):
            commands.append(line.strip())
        else:
            prose.append(line.strip())
        continued = line.endswith("\\")
    return commands, prose


def test_every_finding_shows_its_title_kind_cluster_resources_why_and_fix(body, sample):
    articles = body.find_all("article", "finding")
    assert len(articles) == len(sample["findings"])
    for finding, article in zip(sorted(sample["findings"], key=lambda f: ("high", "medium", "low").index(f["severity"])), articles):
        assert article.find("h4").text() == finding["title"]
        fields = dict(zip([dt.text() for dt in article.find_all("dt")], article.find_all("dd")))
        assert list(fields) == ["Cluster", "Resources", "Why", "Fix"]
        assert "kind " + finding["kind"] in article.text()
        assert fields["Cluster"].text() == (finding["cluster"] or "Account-wide")
        assert [li.text() for li in fields["Resources"].find_all("li")] == finding["resources"]
        assert fields["Why"].text() == re.sub(r"`", "", finding["why"])
        commands, prose = _fix_lines(finding["fix"])
        blocks = fields["Fix"].find_all("pre", "cmd")
        assert [line.strip() for b in blocks for line in b.raw_text().split("\n")] == commands
        assert [line.strip() for p in fields["Fix"].find_all("p") for line in p.raw_text().split("\n")] == [re.sub(r"`", "", p) for p in prose]


def test_backticks_become_code(body):
    finding = _by_heading(body.find_all("article", "finding"), "h4", "Trust statement without an audience condition")
    codes = [c.text() for c in finding.find_all("code")]
    assert "aud" in codes and "sts.amazonaws.com" in codes and "StringEquals" in codes


def test_a_multiline_command_stays_one_block(body):
    finding = [a for a in body.find_all("article", "finding") if "provider-unused" in a.text()][0]
    block = finding.find("pre", "cmd").raw_text()
    assert block.startswith("aws iam delete-open-id-connect-provider \\\n    --open-id-connect-provider-arn arn:aws:iam::")


# --- clusters -------------------------------------------------------------------------------------

def test_every_cluster_has_its_table_with_problems_first(body, sample):
    articles = body.find_all("article", "cluster")
    assert [a.find("h3").text() for a in articles] == ["Cluster blue", "Cluster green", "Cluster legacy"]
    rank = {"broken": 0, "warning": 1, "ok": 2}
    for cluster, article in zip(sample["clusters"], articles):
        assert [th.text() for th in article.find_all("th")] == ["ServiceAccount", "IAM role", "Verdict"]
        rows = article.find("tbody").find_all("tr")
        seen = []
        for row in rows:
            cells = row.find_all("td")
            assert [c.attrs["data-label"] for c in cells] == ["ServiceAccount", "IAM role", "Verdict"]
            seen.append((cells[0].text(), cells[1].text(), cells[2].find("span", "badge").text()))
        expected = {("{0}/{1}".format(sa["namespace"], sa["name"]), sa["role_arn"],
                     {"broken": "\u2717 Broken", "warning": "! Warning", "ok": "\u2713 OK"}[sa["verdict"]]) for sa in cluster["service_accounts"]}
        assert set(seen) == expected and len(seen) == len(expected)
        verdicts = [rank[row.attrs["class"].replace("row-", "")] for row in rows]
        assert verdicts == sorted(verdicts)
        assert rows[0].attrs["class"] == "row-broken"
        assert "{0} ServiceAccounts with an IRSA role".format(len(cluster["service_accounts"])) in article.text()
        assert article.find("div", "facts").text().startswith("Issuer " + cluster["issuer"] + " Provider " + cluster["provider_arn"])


def test_messages_and_pods_to_restart_are_in_the_verdict_cell(body):
    blue = _by_heading(body.find_all("article", "cluster"), "h3", "Cluster blue")
    row = [r for r in blue.find("tbody").find_all("tr") if r.find("td", "sa").text() == "shop/api"][0]
    verdict = row.find("td", "verdict")
    assert verdict.find("div", "msg").text() == "The trust has no aud condition."
    assert verdict.find("div", "pods").text() == "Pods to restart (2): api-6d9f7c8b5-x2kq9, api-6d9f7c8b5-p8w4z"
    assert "blue" in blue.text() and "\u2713 OIDC provider exists" in blue.find("div", "cluster-head").text()
    assert "3 ok, " not in blue.text() and "1 broken, 2 warning, 3 ok" in blue.text()


def test_a_cluster_without_its_provider_says_so(body):
    legacy = _by_heading(body.find_all("article", "cluster"), "h3", "Cluster legacy")
    assert "\u2717 OIDC provider missing" in legacy.find("div", "cluster-head").text()


# --- edge cases -----------------------------------------------------------------------------------

def test_the_empty_report_reads_well():
    page = parse(render_html(empty_report()))
    body = page.root.find("body")
    findings = [s for s in body.find_all("section") if s.attrs.get("id") == "findings"][0]
    assert findings.find("p", "empty").text() == "\u2713 No findings."
    assert not body.find_all("section", "severity") and not body.find_all("article")
    clusters = [s for s in body.find_all("section") if s.attrs.get("id") == "clusters"][0]
    assert "No cluster was audited." in clusters.text()
    assert [li.text() for li in body.find("ul", "counts").find_all("li")] == ["\u25b2 High 0", "\u25c6 Medium 0", "\u25cf Low 0"]
    assert not body.find("ul", "counts").find_all("a"), "a count of zero links to a section that is not there"
    assert "API calls: EKS 1, IAM 2, Kubernetes 0" in body.find("footer").text()


def test_a_cluster_without_service_accounts():
    report = empty_report()
    report["clusters"] = [{"name": "quiet", "issuer": _issuer(BLUE_ID), "provider_arn": _provider_arn(BLUE_ID),
                           "provider_exists": True, "service_accounts": []}]
    article = parse(render_html(report)).root.find("article", "cluster")
    assert "No ServiceAccount in this cluster names an IAM role." in article.text()
    assert not article.find_all("table")


def test_missing_fields_and_unknown_values_are_shown_not_dropped():
    report = {"findings": [{"kind": "something-new", "severity": "critical"}],
              "clusters": [{"name": "c", "service_accounts": [{"namespace": "ns", "name": "sa", "verdict": "skipped"}]}]}
    body = parse(render_html(report)).root.find("body")
    assert body.find("h1").text() == "IRSA audit"
    article = body.find("article", "finding")
    assert article.find("h4").text() == "something-new"
    assert article.find("span", "badge").text() == "\u25cb Critical"
    assert [dd.text() for dd in article.find_all("dd")] == ["Account-wide", "\u2014", "\u2014", "\u2014"]
    row = body.find("tbody").find("tr")
    assert [td.text() for td in row.find_all("td")] == ["ns/sa", "\u2014", "? Skipped"]


def test_unknown_verdicts_sort_between_warnings_and_ok():
    report = empty_report()
    report["clusters"] = [{"name": "c", "service_accounts": [
        {"namespace": "a", "name": "fine", "verdict": "ok"},
        {"namespace": "b", "name": "odd", "verdict": "skipped"},
        {"namespace": "c", "name": "bad", "verdict": "broken"},
        {"namespace": "d", "name": "meh", "verdict": "warning"},
    ]}]
    rows = parse(render_html(report)).root.find("tbody").find_all("tr")
    assert [r.find("td", "sa").text() for r in rows] == ["c/bad", "d/meh", "b/odd", "a/fine"]


def test_rendering_does_not_change_the_report(sample):
    before = copy.deepcopy(sample)
    render_html(sample)
    render_json(sample)
    assert sample == before


# --- JSON -----------------------------------------------------------------------------------------

def test_json_is_the_report_with_sorted_keys_and_two_space_indent(sample):
    text = render_json(sample)
    assert json.loads(text) == sample
    assert text.endswith("}\n")
    assert text.split("\n")[1].startswith('  "account"')

    def pairs_sorted(pairs):
        keys = [key for key, value in pairs]
        assert keys == sorted(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=pairs_sorted)
    assert INJECTED in json.loads(text)["clusters"][2]["service_accounts"][1]["name"]


def test_report_files_are_written_into_report_dir(sample, tmp_path):
    directory = tmp_path / "new" / "audit"
    written = audit_run.write_report(str(directory), sample)
    assert written == [str(directory / "report.json"), str(directory / "report.html")]
    assert (directory / "report.json").read_text(encoding="utf-8") == render_json(sample)
    assert (directory / "report.html").read_text(encoding="utf-8") == render_html(sample)


def test_an_unwritable_report_dir_says_so(sample, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(audit_run.ReportError) as raised:
        audit_run.write_report(str(blocker / "audit"), sample)
    assert str(raised.value) == "Cannot write the report to {0}: Not a directory; set report_dir to a writable directory".format(
        blocker / "audit")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: {0} OUTPUT.html".format(sys.argv[0]))
    with open(sys.argv[1], "w", encoding="utf-8") as output:
        output.write(render_html(sample_report()))
