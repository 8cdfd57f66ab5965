"""AWS's error answers, shared by the services: ``AwsError`` and its documents per protocol (the
query protocol's XML for IAM and STS, REST-JSON for EKS).
"""

import json
import uuid

XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


class AwsError(Exception):
    """An AWS error answer: ``code`` and ``message`` as AWS puts them, with the HTTP status."""

    def __init__(self, status, code, message, sender=True):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def xml_error(service, error):
    """AWS's query-protocol error document (what botocore's query parser reads)."""
    namespace = XML_NAMESPACES.get(service, XML_NAMESPACES["sts"])
    request_id = str(uuid.uuid4())
    payload = (
        f'<ErrorResponse xmlns="{namespace}">\n'
        f"  <Error>\n"
        f"    <Type>{'Sender' if error.sender else 'Receiver'}</Type>\n"
        f"    <Code>{xml_escape(error.code)}</Code>\n"
        f"    <Message>{xml_escape(error.message)}</Message>\n"
        f"  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        f"</ErrorResponse>\n"
    ).encode()
    headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(payload))),
               ("x-amzn-RequestId", request_id)]
    return error.status, headers, payload


def json_error(status, code, message):
    """A REST-JSON error as EKS sends it: the code in ``x-amzn-ErrorType``, the message in the body."""
    request_id = str(uuid.uuid4())
    payload = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
               ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazonaws.eks/"),
               ("x-amzn-RequestId", request_id)]
    return status, headers, payload
