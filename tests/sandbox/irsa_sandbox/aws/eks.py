"""EKS as the gateway routes it: EKS is a REST-JSON API, so a call is known by its method and path;
the routes come from botocore's own EKS model, and each call is logged, faulted and authorized
under its operation name (``DescribeCluster``, ``ListClusters``, ...).
"""

import re

import botocore.session


def routes():
    """``[(method, compiled path regex, operation name)]`` from botocore's EKS model, most
    specific first, so ``/clusters/{name}/node-groups`` never reads as ``/clusters/{name}``."""
    model = botocore.session.Session().get_service_model("eks")
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.escape(uri))  # {greedy+}
        pattern = re.sub(r"\\\{[^}]+?\\\}", "[^/]+", pattern)  # {name}
        found.append((literal, http["method"], re.compile(pattern + "/?"), name))
    found.sort(key=lambda route: -route[0])
    return [(method, regex, name) for _unused, method, regex, name in found]


def operation(known, method, path):
    """The EKS operation of ``method`` on ``path`` (``known``: the ``routes()``), else None."""
    for route_method, regex, name in known:
        if route_method == method and regex.fullmatch(path):
            return name
    return None
