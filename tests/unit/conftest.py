"""Make the checkout importable as ansible_collections.eks.irsa for the unit tests.

`make collection` links the checkout at .build/collections/ansible_collections/eks/irsa; the
installed ansible package provides amazon.aws and kubernetes.core under the same namespace.
"""

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "collections")
if not os.path.isdir(os.path.join(_COLLECTIONS, "ansible_collections", "eks", "irsa")):
    raise RuntimeError("run `make collection` first: .build/collections/ansible_collections/eks/irsa is missing")
sys.path.insert(0, os.path.abspath(_COLLECTIONS))
