"""antsibull-docs' lint of the collection's documentation: markup, references, links, the docs config."""

import os
import subprocess
import sys
import sysconfig

from conftest import ROOT, keep_log

BIN = os.path.dirname(sys.executable)


def test_antsibull_docs_lint_finds_nothing():
    # antsibull-docs copies a collection with git when it lies in a git work tree; amazon.aws and kubernetes.core in
    # the virtualenv may, as ignored files (then nothing of theirs is copied): git must not look above site-packages.
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=sysconfig.get_paths()["purelib"])
    result = subprocess.run([os.path.join(BIN, "antsibull-docs"), "lint-collection-docs", "--plugin-docs", "."], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
    keep_log("antsibull-docs-lint.log", result.stdout)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout[-6000:]
