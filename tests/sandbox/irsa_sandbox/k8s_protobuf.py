"""Decoding of the Kubernetes protobuf request bodies kubectl sends.

kubectl's typed clients (``kubectl create namespace``, ``create serviceaccount``, ``create token``)
send ``application/vnd.kubernetes.protobuf`` bodies: the 4-byte magic ``k8s\\0`` followed by a
``runtime.Unknown`` envelope (``typeMeta``, ``raw``) whose ``raw`` is the object's message. Only
the messages and fields those commands send are described here (field numbers from the
``protobuf:`` tags of ``k8s.io/api``); anything else is answered 415 by the caller.
"""

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """``[(number, wire_type, value)]`` of one message."""
    pos, out = 0, []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            if len(value) != length:
                raise ProtobufError("truncated field")
            pos += length
        elif wire == 1:
            value = int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            value = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


# Schemas: field number -> (json name, type, repeated). Types: "string", "int", "bool", "map",
# "time", or the name of another schema.
SCHEMAS = {
    "ObjectMeta": {
        1: ("name", "string", False),
        2: ("generateName", "string", False),
        3: ("namespace", "string", False),
        5: ("uid", "string", False),
        6: ("resourceVersion", "string", False),
        11: ("labels", "map", False),
        12: ("annotations", "map", False),
        14: ("finalizers", "string", True),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", False),
        2: ("secrets", "ObjectReference", True),
        3: ("imagePullSecrets", "LocalObjectReference", True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    "ObjectReference": {
        1: ("kind", "string", False),
        2: ("namespace", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("fieldPath", "string", False),
    },
    "LocalObjectReference": {1: ("name", "string", False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenRequestSpec": {
        1: ("audiences", "string", True),
        3: ("boundObjectRef", "BoundObjectReference", False),
        4: ("expirationSeconds", "int", False),
    },
    "BoundObjectReference": {
        1: ("kind", "string", False),
        2: ("apiVersion", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", "Preconditions", False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
    "Preconditions": {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)},
}


def _message(data, schema_name):
    schema = SCHEMAS[schema_name]
    obj = {}
    for number, _unused, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind == "string":
            decoded = value.decode("utf-8")
            if not decoded and not repeated:
                continue  # Go writes empty non-pointer strings; JSON would omit them
        elif kind == "int":
            decoded = _signed(value)
        elif kind == "bool":
            decoded = bool(value)
        elif kind == "map":
            entry = {n: v for n, _unused, v in _fields(value)}
            obj.setdefault(name, {})[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
            continue
        else:
            decoded = _message(value, kind)
        if repeated:
            obj.setdefault(name, []).append(decoded)
        else:
            obj[name] = decoded
    return obj


def decode(body):
    """The JSON-shaped object of a protobuf request body; ProtobufError when unknown."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic")
    envelope = {n: v for n, _unused, v in _fields(body[len(MAGIC):])}
    type_meta = {n: v.decode() for n, _unused, v in _fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if kind not in SCHEMAS or kind.endswith("Meta"):
        raise ProtobufError(f"no protobuf decoding for {api_version}/{kind}")
    obj = _message(envelope.get(2, b""), kind)
    if api_version:
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    else:
        obj = {"kind": kind, **obj}
    return obj
