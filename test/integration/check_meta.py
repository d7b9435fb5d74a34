#!/usr/bin/env python3
"""check_meta.py — validates META.json against the PGXN Meta Spec 1.0.0, by hand.

PGXN's own validators (Perl's PGXN::Meta::Validator, the JSON Schemas of github pgxn/meta)
are not packaged by Debian and pip is not reachable here, so the spec's rules are written
out below, one function per schema of pgxn/meta's schema/v1 (distribution, term, version,
version_range, license, maintainer, provides/extension, prereqs, resources, no_index, tags,
meta-spec, path). Unknown keys are errors unless they start with x_ or X_, as in the spec.

Then the distribution's own consistency: the name is the extension's, the version equals
pg2d1.control's default_version, every path named exists, the provided file is the
install script of that version.

Usage: check_meta.py [META.json]      exit 0 when valid, 1 with one line per problem.
"""
import json
import os
import re
import sys

SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
          r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
          r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
VERSION_RE = re.compile(rf"^{SEMVER}$")
RANGE_ONE = rf"(?:(?:[=!]=|[<>]=?)\s*)?(?:{SEMVER}|0)"
RANGE_RE = re.compile(rf"^{RANGE_ONE}(?:,\s*{RANGE_ONE})*$")
CONTROL = "\x00-\x1f\x7f-\x9f"
TERM_RE = re.compile(rf"^[^/\\\s{CONTROL}]{{2,}}$")
TAG_RE = re.compile(rf"^[^/\\{CONTROL}]{{2,255}}$")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
            "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown"}
SPEC_URLS = {"https://pgxn.org/meta/spec.txt", "http://pgxn.org/meta/spec.txt"}
REQUIRED = ["name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"]
TOP = set(REQUIRED) | {"description", "generated_by", "tags", "no_index", "prereqs",
                       "release_status", "resources"}

errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def custom(key):
    return isinstance(key, str) and len(key) > 2 and key[:2] in ("x_", "X_")


def keys(where, obj, allowed, required=(), any_of=()):
    if not isinstance(obj, dict):
        err(where, "must be an object")
        return False
    for k in obj:
        if k not in allowed and not custom(k):
            err(where, f"unknown key {k!r} (custom keys must start with x_)")
    for k in required:
        if k not in obj:
            err(where, f"missing required key {k!r}")
    if any_of and not any(all(k in obj for k in group) for group in any_of):
        err(where, "needs one of " + " or ".join("+".join(g) for g in any_of))
    return True


def string(where, v, min_len=1):
    if not isinstance(v, str) or len(v) < min_len:
        err(where, f"must be a string of at least {min_len} character(s)")
        return False
    return True


def term(where, v):
    if string(where, v, 2) and not TERM_RE.match(v):
        err(where, f"{v!r} is not a term (no slash, backslash, space or control characters)")


def version(where, v):
    if string(where, v) and not VERSION_RE.match(v):
        err(where, f"{v!r} is not a semantic version (x.y.z)")


def version_range(where, v):
    if v == 0 and not isinstance(v, bool):
        return
    if not isinstance(v, str) or not RANGE_RE.match(v):
        err(where, f"{v!r} is not a version range (0, \"1.2.3\", \">= 1.2.0, < 2.0.0\" …)")


def uri(where, v):
    if string(where, v) and not URI_RE.match(v):
        err(where, f"{v!r} is not a URI")


def path(where, v):
    if string(where, v, 2) and (v.startswith("/") or "\\" in v or ".." in v.split("/")):
        err(where, f"{v!r} is not a relative path in Unix convention")


def license_(where, v):
    if isinstance(v, str):
        if v not in LICENSES:
            err(where, f"{v!r} is not one of the spec's license names")
    elif isinstance(v, list):
        if not v:
            err(where, "an empty list")
        if len(set(map(str, v))) != len(v):
            err(where, "duplicate licenses")
        for i, x in enumerate(v):
            if x not in LICENSES:
                err(f"{where}[{i}]", f"{x!r} is not one of the spec's license names")
    elif isinstance(v, dict):
        if not v:
            err(where, "an empty object")
        for k, x in v.items():
            uri(f"{where}.{k}", x)
    else:
        err(where, "must be a license name, a list of them or an object name → URI")


def maintainer(where, v):
    if isinstance(v, str):
        string(where, v)
    elif isinstance(v, list) and v:
        if len(set(map(str, v))) != len(v):
            err(where, "duplicate maintainers")
        for i, x in enumerate(v):
            string(f"{where}[{i}]", x)
    else:
        err(where, "must be a string or a non-empty list of strings")


def provides(where, v):
    if not isinstance(v, dict) or not v:
        err(where, "must be a non-empty object")
        return
    for name, ext in v.items():
        w = f"{where}.{name}"
        term(f"{w} (name)", name)
        if keys(w, ext, {"file", "version", "abstract", "docfile", "docpath"}, ["file", "version"]):
            if "file" in ext:
                path(f"{w}.file", ext["file"])
            if "version" in ext:
                version(f"{w}.version", ext["version"])
            if "abstract" in ext:
                string(f"{w}.abstract", ext["abstract"])
            if "docfile" in ext:
                path(f"{w}.docfile", ext["docfile"])
            if "docpath" in ext:
                string(f"{w}.docpath", ext["docpath"])


def prereqs(where, v):
    phases = ["configure", "build", "test", "runtime", "develop"]
    if not keys(where, v, set(phases), any_of=[[p] for p in phases]):
        return
    rels = ["requires", "recommends", "suggests", "conflicts"]
    for phase in phases:
        if phase not in v:
            continue
        w = f"{where}.{phase}"
        if not keys(w, v[phase], set(rels), any_of=[[r] for r in rels]):
            continue
        for rel in rels:
            if rel not in v[phase]:
                continue
            deps, wr = v[phase][rel], f"{w}.{rel}"
            if not isinstance(deps, dict) or not deps:
                err(wr, "must be a non-empty object name → version range")
                continue
            for name, rng in deps.items():
                term(f"{wr}.{name} (name)", name)
                version_range(f"{wr}.{name}", rng)


def resources(where, v):
    if not keys(where, v, {"homepage", "bugtracker", "repository"},
                any_of=[["homepage"], ["bugtracker"], ["repository"]]):
        return
    if "homepage" in v:
        uri(f"{where}.homepage", v["homepage"])
    if "bugtracker" in v:
        b, w = v["bugtracker"], f"{where}.bugtracker"
        if keys(w, b, {"web", "mailto"}, any_of=[["web"], ["mailto"]]):
            if "web" in b:
                uri(f"{w}.web", b["web"])
            if "mailto" in b and not (isinstance(b["mailto"], str) and EMAIL_RE.match(b["mailto"])):
                err(f"{w}.mailto", "must be an email address")
    if "repository" in v:
        r, w = v["repository"], f"{where}.repository"
        if keys(w, r, {"url", "web", "type"}, any_of=[["url", "type"], ["web"]]):
            for k in ("url", "web"):
                if k in r:
                    uri(f"{w}.{k}", r[k])
            if "type" in r and not (isinstance(r["type"], str) and re.match(r"^[a-z]+$", r["type"])):
                err(f"{w}.type", "must be a lowercase word (git, hg, svn …)")


def no_index(where, v):
    if not keys(where, v, {"file", "directory"}, any_of=[["file"], ["directory"]]):
        return
    for k in ("file", "directory"):
        if k not in v:
            continue
        items = v[k] if isinstance(v[k], list) else [v[k]]
        if isinstance(v[k], list) and (not items or len(set(map(str, items))) != len(items)):
            err(f"{where}.{k}", "must be a non-empty list without duplicates")
        for i, x in enumerate(items):
            path(f"{where}.{k}[{i}]", x)


def tags(where, v):
    if not isinstance(v, list) or not v:
        err(where, "must be a non-empty list")
        return
    if len(set(map(str, v))) != len(v):
        err(where, "duplicate tags")
    for i, t in enumerate(v):
        if not isinstance(t, str) or not TAG_RE.match(t):
            err(f"{where}[{i}]", f"{t!r} is not a tag (2–255 characters, no slash, backslash or control)")


def meta_spec(where, v):
    if not keys(where, v, {"version", "url"}, ["version"]):
        return
    if not (isinstance(v.get("version"), str) and re.match(r"^1\.0\.\d+$", v["version"])):
        err(f"{where}.version", "must be 1.0.x")
    if "url" in v and v["url"] not in SPEC_URLS:
        err(f"{where}.url", f"must be one of {sorted(SPEC_URLS)}")


def validate(meta):
    if not keys("META.json", meta, TOP, REQUIRED):
        return
    if "meta-spec" in meta:
        meta_spec("meta-spec", meta["meta-spec"])
    if "name" in meta:
        term("name", meta["name"])
    if "version" in meta:
        version("version", meta["version"])
    for k in ("abstract", "description", "generated_by"):
        if k in meta:
            string(k, meta[k])
    if "maintainer" in meta:
        maintainer("maintainer", meta["maintainer"])
    if "license" in meta:
        license_("license", meta["license"])
    if "provides" in meta:
        provides("provides", meta["provides"])
    if "prereqs" in meta:
        prereqs("prereqs", meta["prereqs"])
    if "resources" in meta:
        resources("resources", meta["resources"])
    if "no_index" in meta:
        no_index("no_index", meta["no_index"])
    if "tags" in meta:
        tags("tags", meta["tags"])
    if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
        err("release_status", "must be stable, testing or unstable")


def consistency(meta, root):
    """The distribution's own rules: META.json agrees with pg2d1.control and the tree."""
    control = {}
    try:
        for line in open(os.path.join(root, "pg2d1.control"), encoding="utf-8"):
            m = re.match(r"^\s*(\w+)\s*=\s*'?([^']*)'?\s*$", line)
            if m:
                control[m.group(1)] = m.group(2)
    except OSError as e:
        err("pg2d1.control", str(e))
        return
    default = control.get("default_version")
    if meta.get("name") != "pg2d1":
        err("name", "must be the extension's name, pg2d1")
    if meta.get("version") != default:
        err("version", f"{meta.get('version')!r} differs from pg2d1.control's default_version {default!r}")
    ext = meta.get("provides", {}).get("pg2d1")
    if not isinstance(ext, dict):
        err("provides", "must provide the extension pg2d1")
        return
    if ext.get("version") != default:
        err("provides.pg2d1.version", f"{ext.get('version')!r} differs from default_version {default!r}")
    if ext.get("file") != f"sql/pg2d1--{default}.sql":
        err("provides.pg2d1.file", f"must be the install script sql/pg2d1--{default}.sql")
    for k in ("file", "docfile"):
        if isinstance(ext.get(k), str) and not os.path.isfile(os.path.join(root, ext[k])):
            err(f"provides.pg2d1.{k}", f"{ext[k]} does not exist")
    for k in ("file", "directory"):
        items = meta.get("no_index", {}).get(k, [])
        for x in items if isinstance(items, list) else [items]:
            test = os.path.isfile if k == "file" else os.path.isdir
            if isinstance(x, str) and not test(os.path.join(root, x)):
                err(f"no_index.{k}", f"{x} does not exist")


def main():
    path_ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "META.json")
    try:
        with open(path_, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f"META.json: {e}")
        return 1
    validate(meta)
    if not errors:
        consistency(meta, os.path.dirname(os.path.abspath(path_)))
    for e in errors:
        print(e)
    if errors:
        return 1
    print(f"META.json valid (PGXN Meta Spec {meta['meta-spec']['version']}): "
          f"{meta['name']} {meta['version']}, provides {', '.join(meta['provides'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
