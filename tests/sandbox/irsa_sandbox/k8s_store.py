"""Object storage and the API machinery of the Kubernetes emulator.

What lives here is what every resource shares in a real API server: ``metav1.Status`` errors, the
object store with its global resourceVersion and watch history, name and metadata validation,
label and field selectors, and the four patch formats (JSON merge, strategic merge, JSON patch,
server-side apply).
"""

import collections
import copy
import datetime
import json
import random
import re
import threading
import uuid


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error the API server answers with a ``metav1.Status`` body."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def not_found(resource, name, group=""):
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource}
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', details)


def already_exists(resource, name, group=""):
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)


def conflict(resource, name, group=""):
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details,
    )


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def forbidden(resource, name, reason, group=""):
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {reason}', details)


class FieldError:
    """One ``field.Error``: ``spec.x: Invalid value: "v": detail``."""

    def __init__(self, kind, field, value=None, detail=""):
        self.kind = kind  # Invalid, Required, Forbidden, NotSupported, TooLong, Duplicate
        self.field = field
        self.value = value
        self.detail = detail

    def cause_reason(self):
        return {
            "Invalid": "FieldValueInvalid",
            "Required": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
            "Duplicate": "FieldValueDuplicate",
            "NotSupported": "FieldValueNotSupported",
            "TooLong": "FieldValueTooLong",
            "NotFound": "FieldValueNotFound",
        }[self.kind]

    def body(self):
        if self.kind == "Invalid":
            text = f"Invalid value: {_go_value(self.value)}"
            return f"{text}: {self.detail}" if self.detail else text
        if self.kind == "Required":
            return f"Required value: {self.detail}" if self.detail else "Required value"
        if self.kind == "Forbidden":
            return f"Forbidden: {self.detail}" if self.detail else "Forbidden"
        if self.kind == "Duplicate":
            return f"Duplicate value: {_go_value(self.value)}"
        if self.kind == "NotFound":
            return f"Not found: {_go_value(self.value)}"
        if self.kind == "NotSupported":
            return f"Unsupported value: {_go_value(self.value)}: {self.detail}"
        return f"Too long: {self.detail}"

    def text(self):
        return f"{self.field}: {self.body()}"


def _go_value(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def invalid(kind, name, errors, group=""):
    """422 Invalid, as ``errors.NewInvalid`` renders it."""
    qualified_kind = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        summary = errors[0].text()
    else:
        summary = "[" + ", ".join(error.text() for error in errors) + "]"
    details = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": e.cause_reason(), "message": e.body(), "field": e.field} for e in errors],
    }
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


# --------------------------------------------------------------------------- validation

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(" + QUALIFIED_NAME + r")?"

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def dns1123_label_errors(field, value):
    errors = []
    if len(value) > 63:
        errors.append(FieldError("Invalid", field, value, "must be no more than 63 characters"))
    if not re.fullmatch(DNS1123_LABEL, value):
        errors.append(FieldError("Invalid", field, value, LABEL_MSG))
    return errors


def dns1123_subdomain_errors(field, value):
    errors = []
    if len(value) > 253:
        errors.append(FieldError("Invalid", field, value, "must be no more than 253 characters"))
    if not re.fullmatch(DNS1123_SUBDOMAIN, value):
        errors.append(FieldError("Invalid", field, value, SUBDOMAIN_MSG))
    return errors


def qualified_name_errors(field, key):
    """``IsQualifiedName``: an optional DNS subdomain prefix, ``/``, then a name of up to 63."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return [FieldError("Invalid", field, key, "prefix part must be non-empty")]
        if len(prefix) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, prefix):
            return [FieldError("Invalid", field, key, "prefix part " + SUBDOMAIN_MSG)]
    else:
        return [FieldError("Invalid", field, key, "a qualified name " + QUALIFIED_NAME_MSG[len("name part "):]
                           + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]
    if not name:
        return [FieldError("Invalid", field, key, "name part must be non-empty")]
    if len(name) > 63:
        return [FieldError("Invalid", field, key, "name part must be no more than 63 characters")]
    if not re.fullmatch(QUALIFIED_NAME, name):
        return [FieldError("Invalid", field, key, QUALIFIED_NAME_MSG)]
    return []


def metadata_errors(metadata, name_errors, namespaced):
    """Errors in ``metadata`` common to every object (name, namespace, labels, annotations)."""
    errors = []
    name = metadata.get("name")
    if not name and not metadata.get("generateName"):
        errors.append(FieldError("Required", "metadata.name", None, "name or generateName is required"))
    elif name:
        errors.extend(name_errors("metadata.name", name))
    if namespaced and not metadata.get("namespace"):
        errors.append(FieldError("Required", "metadata.namespace", None, ""))
    for key, value in (metadata.get("labels") or {}).items():
        errors.extend(qualified_name_errors("metadata.labels", key))
        if not isinstance(value, str):
            errors.append(FieldError("Invalid", f"metadata.labels[{key}]", value, "must be a string"))
        elif len(value) > 63:
            errors.append(FieldError("Invalid", "metadata.labels", value, "must be no more than 63 characters"))
        elif not re.fullmatch(LABEL_VALUE, value):
            errors.append(FieldError("Invalid", "metadata.labels", value, LABEL_VALUE_MSG))
    annotations = metadata.get("annotations") or {}
    total = 0
    for key, value in annotations.items():
        errors.extend(qualified_name_errors("metadata.annotations", key.lower()))
        total += len(key) + len(value if isinstance(value, str) else "")
    if total > 256 * 1024:
        errors.append(FieldError("TooLong", "metadata.annotations", None, "must have at most 262144 bytes"))
    return errors


# --------------------------------------------------------------------------- selectors


def parse_label_selector(text):
    """Parse a label selector string into ``[(key, op, values)]``; BadRequest when malformed."""
    requirements = []
    if not text:
        return requirements
    # split on commas that are not inside parentheses
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    for part in parts:
        part = part.strip()
        match = re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part)
        if match:
            values = [v.strip() for v in match.group(3).split(",") if v.strip()]
            requirements.append((match.group(1), match.group(2), values))
            continue
        match = re.fullmatch(r"([^=!\s]+)\s*(==|!=|=)\s*(\S*)", part)
        if match:
            op = {"=": "=", "==": "=", "!=": "!="}[match.group(2)]
            requirements.append((match.group(1), op, [match.group(3)]))
            continue
        match = re.fullmatch(r"!\s*([^=!\s]+)", part)
        if match:
            requirements.append((match.group(1), "!", []))
            continue
        if re.fullmatch(r"[^=!\s(),]+", part):
            requirements.append((part, "exists", []))
            continue
        raise bad_request(f"unable to parse requirement: found '{part}', expected: identifier")
    for key, _unused, _unused in requirements:
        if qualified_name_errors("key", key):
            raise bad_request(f'unable to parse requirement: invalid label key "{key}": {QUALIFIED_NAME_MSG}')
    return requirements


def labels_match(requirements, labels):
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != values[0]:
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and (not present or labels[key] not in values):
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def parse_field_selector(text, supported, resource):
    """Parse a field selector into ``[(field, op, value)]``; unsupported fields are a BadRequest."""
    terms = []
    if not text:
        return terms
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"([^=!]+)(==|!=|=)(.*)", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.group(1), match.group(2), match.group(3)
        if field not in supported:
            raise bad_request(f'field label not supported: {field}')
        terms.append((field, "!=" if op == "!=" else "=", value))
    return terms


def field_value(obj, path):
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields_match(terms, obj):
    for field, op, value in terms:
        actual = field_value(obj, field)
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
    return True


# --------------------------------------------------------------------------- patches


def json_merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# Lists merged by key under strategic merge patch, by field name (the ``patchMergeKey`` tags of
# the core/v1 types the emulator serves); any other list is replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "secrets": "name",
    "tolerations": None,  # atomic in practice
    "conditions": "type",
    "finalizers": None,
    "ownerReferences": "uid",
    "webhooks": "name",
}


def strategic_merge_patch(target, patch):
    """Strategic merge patch for the fields the emulator serves.

    Maps merge recursively, ``null`` deletes, lists named in ``MERGE_KEYS`` merge element-wise on
    their key, other lists are replaced. Directives: ``$patch: replace|delete`` on maps and list
    elements, ``$retainKeys`` is accepted and honoured, ``$setElementOrder/<list>`` is accepted.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/") or key.startswith("$deleteFromPrimitiveList/"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and MERGE_KEYS.get(key) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [item for item in result[name] if item not in value]
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current, patch_items, key):
    result = copy.deepcopy(current)
    for item in patch_items:
        if not isinstance(item, dict) or key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next((i for i, existing in enumerate(result) if isinstance(existing, dict) and existing.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("the server rejected our request due to an error in our request")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(target, operations):
    """RFC 6902 (add, remove, replace, move, copy, test)."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)

    def parent_of(parts):
        node = doc
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
            else:
                node = node[part]
        return node

    def get(parts):
        node = doc
        for part in parts:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def add(parts, value):
        nonlocal doc
        if not parts:
            doc = value
            return
        parent = parent_of(parts)
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            else:
                index = int(last)
                if index > len(parent):
                    raise IndexError(last)
                parent.insert(index, value)
        else:
            parent[last] = value

    def remove(parts):
        parent = parent_of(parts)
        last = parts[-1]
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)

    for operation in operations:
        op = operation.get("op")
        path = operation.get("path", "")
        try:
            parts = _pointer(path)
            if op == "add":
                add(parts, copy.deepcopy(operation.get("value")))
            elif op == "remove":
                remove(parts)
            elif op == "replace":
                get(parts)
                if not parts:
                    doc = copy.deepcopy(operation.get("value"))
                else:
                    parent = parent_of(parts)
                    last = parts[-1]
                    if isinstance(parent, list):
                        parent[int(last)] = copy.deepcopy(operation.get("value"))
                    else:
                        parent[last] = copy.deepcopy(operation.get("value"))
            elif op == "move":
                value = remove(_pointer(operation.get("from", "")))
                add(parts, value)
            elif op == "copy":
                add(parts, copy.deepcopy(get(_pointer(operation.get("from", "")))))
            elif op == "test":
                if get(parts) != operation.get("value"):
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {path} failed: test failed")
            else:
                raise bad_request(f"Unexpected kind: {op}")
        except (KeyError, IndexError, ValueError, TypeError):
            if op == "remove" or op == "replace":
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                               f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                           f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    return doc


def apply_patch(target, applied):
    """Server-side apply, merging the applied configuration into the live object.

    Field ownership is not tracked: fields the manager stops applying are not removed. Maps merge,
    keyed lists merge on their key, other lists are replaced.
    """
    applied = copy.deepcopy(applied)
    return _apply_merge(target, applied)


def _apply_merge(target, applied):
    if not isinstance(applied, dict) or not isinstance(target, dict):
        return copy.deepcopy(applied)
    result = copy.deepcopy(target)
    for key, value in applied.items():
        if isinstance(value, list) and MERGE_KEYS.get(key) and isinstance(result.get(key), list):
            merge_key = MERGE_KEYS[key]
            merged = copy.deepcopy(result[key])
            for item in value:
                index = next((i for i, e in enumerate(merged)
                              if isinstance(e, dict) and isinstance(item, dict) and e.get(merge_key) == item.get(merge_key)), None)
                if index is None:
                    merged.append(item)
                else:
                    merged[index] = _apply_merge(merged[index], item)
            result[key] = merged
        elif isinstance(value, dict):
            result[key] = _apply_merge(result.get(key), value)
        else:
            result[key] = value
    return result


# --------------------------------------------------------------------------- store


WatchEvent = collections.namedtuple("WatchEvent", "rv type resource obj")

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length=5):
    return "".join(random.choice(NAME_CHARS) for _unused in range(length))


class Store:
    """All objects of one cluster, keyed by ``(resource, namespace, name)``.

    One lock guards every object and the resourceVersion counter; ``changed`` wakes watchers.
    """

    HISTORY = 2000

    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects = {}
        self._rv = 1000
        self._history = collections.deque(maxlen=self.HISTORY)

    @property
    def resource_version(self):
        with self.lock:
            return str(self._rv)

    def get(self, resource, namespace, name):
        with self.lock:
            obj = self._objects.get((resource, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def peek(self, resource, namespace, name):
        """The stored object itself, for callers that hold ``lock`` and will not mutate it."""
        return self._objects.get((resource, namespace or "", name))

    def list(self, resource, namespace=None):
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (res, ns, _unused), obj in self._objects.items()
                if res == resource and (namespace is None or ns == namespace)
            ]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def new_metadata(self, metadata):
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now_rfc3339()

    def put(self, resource, obj, event_type):
        """Store ``obj`` under a new resourceVersion and record the watch event. Returns a copy."""
        with self.lock:
            self._rv += 1
            obj = omit_empty(copy.deepcopy(obj))
            obj["metadata"]["resourceVersion"] = str(self._rv)
            key = (resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            self._objects[key] = obj
            self._history.append(WatchEvent(self._rv, event_type, resource, copy.deepcopy(obj)))
            self.changed.notify_all()
            return copy.deepcopy(obj)

    def remove(self, resource, namespace, name):
        with self.lock:
            obj = self._objects.pop((resource, namespace or "", name), None)
            if obj is None:
                return None
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._history.append(WatchEvent(self._rv, "DELETED", resource, copy.deepcopy(obj)))
            self.changed.notify_all()
            return obj

    def events_since(self, rv):
        """Watch events after ``rv`` (an int), or None when ``rv`` is older than the history kept."""
        with self.lock:
            if self._history and rv < self._history[0].rv - 1 and len(self._history) == self.HISTORY:
                return None
            return [event for event in self._history if event.rv > rv]

    def wait(self, timeout):
        with self.lock:
            self.changed.wait(timeout)


OMIT_EMPTY = {
    "metadata": ("labels", "annotations", "finalizers", "ownerReferences", "managedFields", "generateName"),
    "": ("secrets", "imagePullSecrets"),
}


def omit_empty(obj):
    """Drop the empty fields Go's ``omitempty`` leaves out of a stored object's JSON."""
    for key in OMIT_EMPTY[""]:
        if obj.get(key) in ([], {}, None):
            obj.pop(key, None)
    meta = obj.get("metadata") or {}
    for key in OMIT_EMPTY["metadata"]:
        if meta.get(key) in ([], {}, None, ""):
            meta.pop(key, None)
    return obj


def strip_for_compare(obj):
    """The object without the fields a write always changes, to detect no-op writes."""
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    return obj
