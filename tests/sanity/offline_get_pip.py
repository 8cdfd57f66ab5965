"""Provide ansible-test's pip bootstrap script from the local Python instead of downloading it.

`ansible-test sanity --venv` bootstraps pip in each of its virtualenvs with a get-pip script that it
downloads from a host outside the package registries. When the script is already in its cache
(~/.ansible/test/cache/get_pip_<version>.py) it is used as is. This writes a stand-in there that
does the same job offline: ensurepip, then pip installs the pinned pip from the package index.
"""

import os
import re
import sys

import ansible_test

STAND_IN = '''\
"""Offline stand-in for get-pip.py, written by eks.irsa's tests/sanity/offline_get_pip.py."""
import os
import subprocess
import sys

# get-pip.py options that pip install does not know.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
cert = ["--cert", "/etc/ssl/certs/ca-certificates.crt"] if os.path.exists("/etc/ssl/certs/ca-certificates.crt") else []
subprocess.check_call([sys.executable, "-m", "pip", "install"] + cert + args)
'''


def pinned_pip_version():
    source = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
    with open(source, encoding="utf-8") as handle:
        match = re.search(r"pip='([0-9.]+)'", handle.read())
    if not match:
        sys.exit("cannot find the pip version ansible-test pins in " + source)
    return match.group(1)


def main():
    version = pinned_pip_version()
    cache = os.path.expanduser("~/.ansible/test/cache")
    path = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
    if os.path.exists(path):
        return
    os.makedirs(cache, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(STAND_IN)
    print("ansible-test pip %s bootstrap: offline stand-in written to the ansible-test cache" % version)


if __name__ == "__main__":
    main()
