#!/usr/bin/env python3
"""Tests of check_layers.py on small throwaway trees: a declared include passes, an undeclared
one, a header nobody owns, a header two libraries claim and a cycle each fail, naming the file."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_layers.py")


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rel, text=""):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def lib(self, name, folder, sources, deps=(), headers=()):
        d = os.path.join(self.root, "src/aits", folder)
        return {"name": name, "library": True, "dir": d,
                "sources": [os.path.join(d, s) for s in sources],
                "headers": [os.path.join(d, h) for h in headers], "deps": list(deps)}

    def run_check(self, targets):
        manifest = self.write("build/layers.json",
                              json.dumps({"source_dir": self.root, "targets": targets}))
        stamp = os.path.join(self.root, "build/ok")
        done = subprocess.run([sys.executable, CHECK, manifest, stamp], capture_output=True,
                              text=True)
        return done.returncode, done.stderr, os.path.exists(stamp)

    def base_tree(self, high_include):
        self.write("src/aits/low/low.h", "#pragma once\n")
        self.write("src/aits/low/low.cc", '#include "aits/low/low.h"\n')
        self.write("src/aits/high/high.h", "#pragma once\n" + high_include)
        self.write("src/aits/high/high.cc", '#include "aits/high/high.h"\n')

    def test_declared_include_passes(self):
        self.base_tree('#include "aits/low/low.h"\n')
        code, err, stamped = self.run_check([self.lib("low", "low", ["low.cc"]),
                                             self.lib("high", "high", ["high.cc"], ["low"])])
        self.assertEqual(code, 0, err)
        self.assertTrue(stamped)

    def test_undeclared_include_fails_naming_file_and_line(self):
        self.base_tree('#include "aits/low/low.h"\n')
        code, err, stamped = self.run_check([self.lib("low", "low", ["low.cc"]),
                                             self.lib("high", "high", ["high.cc"])])
        self.assertEqual(code, 1)
        self.assertFalse(stamped)
        self.assertIn("src/aits/high/high.h:2: includes aits/low/low.h of low", err)

    def test_transitive_dependency_is_visible(self):
        self.base_tree('#include "aits/low/low.h"\n')
        self.write("src/aits/mid/mid.cc", "")
        code, err, _ = self.run_check([self.lib("low", "low", ["low.cc"]),
                                       self.lib("mid", "mid", ["mid.cc"], ["low"]),
                                       self.lib("high", "high", ["high.cc"], ["mid"])])
        self.assertEqual(code, 0, err)

    def test_unowned_and_doubly_owned_headers_fail(self):
        self.base_tree("")
        self.write("src/aits/low/other.cc", "")
        self.write("src/aits/low/orphan.h", "")
        self.write("src/aits/low/shared.h", "")
        code, err, _ = self.run_check([
            self.lib("low", "low", ["low.cc"], headers=["shared.h"]),
            self.lib("other", "low", ["other.cc"], headers=["shared.h"]),
            self.lib("high", "high", ["high.cc"])])
        self.assertEqual(code, 1)
        self.assertIn("aits/low/orphan.h: no library owns this header", err)
        self.assertIn("aits/low/shared.h: owned by several libraries: low, other", err)

    def test_cycle_fails(self):
        self.base_tree("")
        code, err, _ = self.run_check([self.lib("low", "low", ["low.cc"], ["high"]),
                                       self.lib("high", "high", ["high.cc"], ["low"])])
        self.assertEqual(code, 1)
        self.assertIn("dependency cycle", err)


if __name__ == "__main__":
    unittest.main()
