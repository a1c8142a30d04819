"""Prints template.yaml as CloudFormation JSON after the SAM transform (aws-sam-translator, which
cfn-lint installs), so the tests can check the IAM statements SAM generates."""
import json
import os
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
template, errors = decode_str(open(sys.argv[1]).read())
if errors:
    sys.exit(f"cannot read {sys.argv[1]}: {errors}")
# The code location is resolved by `sam build`; the translator only needs it to look like S3.
template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/key"


class NoManagedPolicies:
    def load(self):
        return {}


print(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
