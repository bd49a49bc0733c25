#!/usr/bin/python3
"""Checks the Kubernetes manifests in deploy/k8s offline, against the
Kubernetes API's object schemas as Debian's python3-kubernetes carries them
(its models are generated from the Kubernetes OpenAPI spec): every field must
be one the API defines, of its type, required fields present; and against what
edgeforge needs of them (an Indexed Job whose --shard count is its
completions, JOB_COMPLETION_INDEX in args defined).

usage: validate_k8s.py DIR         validate every *.yaml in DIR
       validate_k8s.py --self-test DIR
                                   also check that broken copies are refused
Exit status 0 when valid (and, with --self-test, every broken copy refused).
"""
import copy
import glob
import os
import re
import sys

import yaml
from kubernetes import client

KINDS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("batch/v1", "Job"): "V1Job",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def check(value, type_name, path, errors):
    """Checks `value` against the model type `type_name` (python3-kubernetes' notation)."""
    if type_name in PRIMITIVES:
        # IntOrString fields are typed 'object'; quantities are strings.
        if type_name == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            errors.append(f"{path}: must be a string, got {value!r} (quote it)")
        elif not isinstance(value, PRIMITIVES[type_name]) or (type_name == "int" and isinstance(value, bool)):
            errors.append(f"{path}: must be {type_name}, got {type(value).__name__}")
        return
    if type_name in ("object", "datetime"):
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: must be a list")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\((.+), (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: must be a map")
            return
        for k, v in value.items():
            check(v, m.group(2), f"{path}.{k}", errors)
        return
    model = getattr(client, type_name, None)
    if model is None:
        errors.append(f"{path}: no model {type_name} in python3-kubernetes")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: must be an object ({type_name})")
        return
    by_json = {j: p for p, j in model.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            known = ", ".join(sorted(by_json))
            errors.append(f"{path}.{key}: unknown field of {type_name} (known: {known})")
            continue
        check(v, model.openapi_types[by_json[key]], f"{path}.{key}", errors)
    # Required fields: the model's constructor refuses None for them.
    try:
        model(**{p: value.get(j) for j, p in by_json.items()})
    except ValueError as e:
        errors.append(f"{path}: {e}")
    except TypeError:
        pass  # nested values are plain dicts here; their own check ran above


def edgeforge_rules(doc, path, errors):
    """What the shard Job must get right beyond the schema."""
    if doc.get("kind") != "Job":
        return
    spec = doc.get("spec", {})
    for c in spec.get("template", {}).get("spec", {}).get("containers", []):
        args = [str(a) for a in c.get("args", [])]
        env = {e.get("name") for e in c.get("env", [])}
        for a in args:
            for var in re.findall(r"\$\(([A-Z_]+)\)", a):
                if var not in env:
                    errors.append(f"{path}: container {c.get('name')}: args use $({var}) but env does not define it")
        if "--shard" in args:
            shard = args[args.index("--shard") + 1]
            m = re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard)
            if not m:
                errors.append(f"{path}: --shard must be $(JOB_COMPLETION_INDEX)/N, got {shard}")
            elif spec.get("completionMode") != "Indexed":
                errors.append(f"{path}: --shard needs completionMode: Indexed (the completion index is the shard)")
            elif int(m.group(1)) != spec.get("completions"):
                errors.append(f"{path}: --shard .../{m.group(1)} but completions is {spec.get('completions')}: "
                              "every shard must run exactly once")


def validate_doc(doc, path):
    errors = []
    if not isinstance(doc, dict):
        return [f"{path}: not an object"]
    kind = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    if kind is None:
        return [f"{path}: {doc.get('apiVersion')}/{doc.get('kind')} is not one this check knows ({sorted(KINDS)})"]
    check(doc, kind, path, errors)
    edgeforge_rules(doc, path, errors)
    return errors


def load(directory):
    docs = []
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    if not files:
        sys.exit(f"validate_k8s: no *.yaml in {directory}")
    for f in files:
        with open(f) as fh:
            for i, d in enumerate(yaml.safe_load_all(fh)):
                if d is not None:
                    docs.append((f"{os.path.basename(f)}#{i} {d.get('kind')}/{d.get('metadata', {}).get('name')}", d))
    return docs


def self_test(docs):
    """Broken copies of the shard Job must each be refused, with the reason."""
    job = next(d for p, d in docs if d.get("kind") == "Job" and d["spec"].get("completionMode") == "Indexed")
    cases = []
    bad = copy.deepcopy(job); bad["spec"]["completionMod"] = bad["spec"].pop("completionMode")
    cases.append(("misspelt field", bad, "completionMod: unknown field"))
    bad = copy.deepcopy(job); del bad["spec"]["template"]["spec"]["containers"]
    cases.append(("no containers", bad, "containers"))
    bad = copy.deepcopy(job); bad["spec"]["completions"] = 3
    cases.append(("shards != completions", bad, "completions is 3"))
    bad = copy.deepcopy(job); bad["spec"]["template"]["spec"]["containers"][0]["env"] = []
    cases.append(("undefined env in args", bad, "env does not define it"))
    bad = copy.deepcopy(job); bad["spec"]["parallelism"] = "4"
    cases.append(("wrong type", bad, "parallelism: must be int"))
    failed = 0
    for name, doc, want in cases:
        errors = validate_doc(doc, "self-test")
        if not any(want in e for e in errors):
            print(f"self-test FAILED: {name}: expected an error containing {want!r}, got {errors}")
            failed += 1
        else:
            print(f"self-test ok: {name}: {next(e for e in errors if want in e)[:160]}")
    return failed


def main(argv):
    args = [a for a in argv if a != "--self-test"]
    if len(args) != 1:
        sys.exit(__doc__)
    docs = load(args[0])
    errors = []
    for path, d in docs:
        errors += validate_doc(d, path)
    for e in errors:
        print(e)
    print(f"validate_k8s: {len(docs)} objects, {len(errors)} errors (python3-kubernetes {client.__version__ if hasattr(client, '__version__') else ''})")
    failed = self_test(docs) if "--self-test" in argv else 0
    return 1 if errors or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
