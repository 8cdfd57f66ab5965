# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What eks.irsa's modules need on the host that runs them: the collection's requirements.txt, as ansible-doc shows it.

Used instead of amazon.aws.boto3, whose minimum versions are amazon.aws's, not this collection's.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
requirements:
  - python >= 3.8
  - boto3 >= 1.35.0
  - botocore >= 1.35.0
"""
