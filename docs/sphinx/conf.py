"""Sphinx configuration of the eks.irsa documentation site (make docs), from antsibull-docs' sphinx-init.

The site is built without network: no intersphinx inventory is at hand, so the few references of the generated
pages to the Ansible documentation and to other collections' plugins link to their published pages directly.
"""

import re

from docutils import nodes

project = "eks.irsa"
copyright = "eks.irsa contributors"  # pylint: disable=redefined-builtin

title = "eks.irsa collection documentation"
html_short_title = "eks.irsa"

extensions = ["sphinx_antsibull_ext"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_theme_options = {"display_version": False}
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
nitpicky = True

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
# Labels of the Ansible documentation that antsibull-docs' pages refer to: (page, title).
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
}
# ansible_collections.<namespace>.<name>.<plugin>_<type>, antsibull-docs' label of another collection's plugin page.
PLUGIN_LABEL = re.compile(r"^ansible_collections\.(\w+)\.(\w+)\.(\w+)_(module|[a-z]+)$")


def _published_page(target):
    if target in ANSIBLE_LABELS:
        page, title = ANSIBLE_LABELS[target]
        return ANSIBLE_DOCS + page, title
    found = PLUGIN_LABEL.match(target)
    if found and (found.group(1), found.group(2)) != ("eks", "irsa"):
        namespace, name, plugin, kind = found.groups()
        url = "{0}collections/{1}/{2}/{3}_{4}.html".format(ANSIBLE_DOCS, namespace, name, plugin, kind)
        return url, "{0}.{1}.{2}".format(namespace, name, plugin)
    return None


def _link_published_pages(app, env, node, contnode):  # pylint: disable=unused-argument
    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    published = _published_page(node["reftarget"])
    if published is None:
        return None
    url, title = published
    text = contnode if node.get("refexplicit") else nodes.inline(title, title)
    reference = nodes.reference("", "", internal=False, refuri=url)
    reference += text
    return reference


def setup(app):
    app.connect("missing-reference", _link_published_pages)
