#!/usr/bin/env python3
"""Fails the build when a file includes a project header its target does not declare.

The module graph is the DEPS of each library (cmake/aits.cmake, drawn in docs/architecture.md).
Every target's include path is the whole of src/, so the compiler alone would accept an
undeclared `#include "aits/x/y.h"` and the graph would rot silently until a link failed or a
cycle appeared. This check makes the declared graph the only one: a file may include the headers
of its own target and of the libraries that target reaches through its declared dependencies.

Input: the manifest CMake writes at configure time (aits_write_layer_manifest), one JSON object:
  {"source_dir": "...", "unbuilt": [{"library", "header"}],
   "targets": [{"name", "library", "dir", "sources", "headers", "deps"}]}
("unbuilt": headers of the libraries a configuration leaves out, AITS_BUILD_TRAINING=OFF.)
A header belongs to the library in its folder (or the nearest folder above with libraries, for
internal/) that compiles the .cc of the same name, or that lists it in HDRS; if the folder holds
one library, to that one. Test helpers (*_test_util.h) belong to no library. A header nobody owns is an error
too: it would be reachable from everywhere.

Usage: check_layers.py MANIFEST [STAMP]   (writes STAMP when the tree is clean)
"""
import json
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"(aits/[^"]+)"', re.MULTILINE)


def main(argv):
    if len(argv) < 2:
        print("usage: check_layers.py MANIFEST [STAMP]", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    src_root = os.path.join(manifest["source_dir"], "src")
    targets = {t["name"]: t for t in manifest["targets"]}

    libraries_by_dir = {}
    for t in targets.values():
        if t["library"]:
            libraries_by_dir.setdefault(os.path.normpath(t["dir"]), []).append(t)

    errors = []
    owner = {}  # header path relative to src/ -> library name
    # Headers of libraries this configuration does not build: owned, and reachable by no target.
    unbuilt = {u["header"]: u["library"] + " (not built in this configuration)"
               for u in manifest.get("unbuilt", [])}
    for dirpath, _, files in os.walk(os.path.join(src_root, "aits")):
        for name in sorted(files):
            if not name.endswith(".h"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src_root)
            if name.endswith("_test_util.h"):
                continue  # helpers shared by tests; no library includes them
            if path in unbuilt:
                owner[rel] = unbuilt[path]
                continue
            # Headers in a subfolder (data/internal/) belong to the libraries of the nearest
            # folder above that has some.
            libs_dir = os.path.normpath(dirpath)
            while libs_dir not in libraries_by_dir and libs_dir != os.path.normpath(src_root):
                libs_dir = os.path.dirname(libs_dir)
            libs = libraries_by_dir.get(libs_dir, [])
            stem = os.path.splitext(name)[0]
            claimants = [
                t["name"] for t in libs
                if path in t["headers"] or any(
                    os.path.splitext(os.path.basename(s))[0] == stem for s in t["sources"])
            ]
            if not claimants and len(libs) == 1:
                claimants = [libs[0]["name"]]
            if len(claimants) == 1:
                owner[rel] = claimants[0]
            elif not claimants:
                errors.append(f"{rel}: no library owns this header (name it in a library's HDRS in "
                              f"{os.path.relpath(dirpath, manifest['source_dir'])}/)")
            else:
                errors.append(f"{rel}: owned by several libraries: {', '.join(sorted(claimants))}")

    closure_cache = {}

    def closure(name):
        if name in closure_cache:
            return closure_cache[name]
        closure_cache[name] = {name}  # cuts cycles; a cycle is reported below
        seen = {name}
        for dep in targets[name]["deps"]:
            if dep in targets:
                seen |= closure(dep)
        closure_cache[name] = seen
        return seen

    for t in sorted(targets.values(), key=lambda t: t["name"]):
        reach = closure(t["name"])
        if t["library"]:
            for dep in t["deps"]:
                if dep in targets and t["name"] in closure(dep) and dep != t["name"]:
                    errors.append(f"{t['name']}: dependency cycle through {dep}")
        own_headers = [h for h, o in owner.items() if o == t["name"]] if t["library"] else []
        files = list(t["sources"]) + [os.path.join(src_root, h) for h in own_headers]
        for path in files:
            if not path.endswith((".h", ".cc")) or not os.path.exists(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for match in INCLUDE.finditer(text):
                header = match.group(1)
                lib = owner.get(header)
                if lib is None:
                    continue  # generated (aits/v1/*.pb.h) or not a library header
                if lib not in reach:
                    line = text.count("\n", 0, match.start()) + 1
                    rel = os.path.relpath(path, manifest["source_dir"])
                    errors.append(f"{rel}:{line}: includes {header} of {lib}, which target "
                                  f"{t['name']} does not declare (add it to DEPS, or move the "
                                  f"code)")
    if errors:
        print("layering check failed (docs/architecture.md, 'Modules'):", file=sys.stderr)
        for e in sorted(set(errors)):
            print("  " + e, file=sys.stderr)
        return 1
    if len(argv) > 2:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
