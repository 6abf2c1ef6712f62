#!/usr/bin/env python3
"""Writes the MT5 protocol's code from its one definition, proto/mt5/protocol.schema.

    scripts/gen_mt5_protocol.py           rewrite the generated files
    scripts/gen_mt5_protocol.py --check   exit 1 naming every generated file that differs

Outputs: src/aits/mt5/messages.h and messages.cc (the C++ codecs), messages_json.h and .cc (the
messages as JSON, for transcripts), and
clients/metatrader/MQL5/Include/Aits/Protocol.mqh (the Expert Advisor's). The schema's syntax is
described at its top; an error names the schema's line.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "proto/mt5/protocol.schema"

# type -> (C++ type, bytes on the wire, writer/reader suffix)
SCALARS = {
    "u8": ("uint8_t", 1, "U8"),
    "u16": ("uint16_t", 2, "U16"),
    "u32": ("uint32_t", 4, "U32"),
    "u64": ("uint64_t", 8, "U64"),
    "i32": ("int32_t", 4, "I32"),
    "i64": ("int64_t", 8, "I64"),
    "f64": ("double", 8, "F64"),
    "bool": ("bool", 1, "Bool"),
    "str": ("std::string", 2, "Str"),
}
DIRECTIONS = {"ea": "kFromEa", "gw": "kFromGateway", "both": "kBoth"}


class SchemaError(Exception):
    pass


class Field:
    def __init__(self, type_name, name, comment, line):
        self.array = type_name.endswith("[]")
        self.type = type_name[:-2] if self.array else type_name
        self.name = name
        self.comment = comment
        self.line = line


class Record:
    def __init__(self, kind, name, line, msg_id=None, direction=None, doc=None):
        self.kind = kind  # "struct" or "message"
        self.name = name
        self.line = line
        self.id = msg_id
        self.direction = direction
        self.doc = doc or []
        self.fields = []


def camel(name):
    """A message's snake_case name as a C++ type name; struct names are CamelCase already."""
    if any(c.isupper() for c in name):
        return name
    return "".join(part.capitalize() for part in name.split("_"))


def clang_format(path, text):
    """The generated C++ as the tree's .clang-format writes it, so that format checks pass."""
    import subprocess
    done = subprocess.run(["clang-format", f"--assume-filename={path}"], input=text, text=True,
                          capture_output=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SchemaError(f"clang-format failed on {path.relative_to(ROOT)}: {done.stderr.strip()}")
    return done.stdout


def parse(text):
    version = None
    records = []
    current = None
    doc = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{SCHEMA.relative_to(ROOT)}:{number}"
        if not line:
            doc = []
            continue
        if line.startswith("#"):
            if current is None:
                doc.append(line[1:].strip())
            continue
        code, _, comment = line.partition("#")
        words = code.split()
        if current is None:
            if words[0] == "version" and len(words) == 2:
                version = int(words[1])
            elif words[0] == "struct" and len(words) == 2:
                current = Record("struct", words[1], number, doc=doc)
            elif words[0] == "message" and len(words) == 4:
                if not words[1].isdigit() or not 0 < int(words[1]) < 65536:
                    raise SchemaError(f"{where}: message id '{words[1]}' is not 1..65535")
                if words[3] not in DIRECTIONS:
                    raise SchemaError(f"{where}: direction '{words[3]}' is not ea, gw or both")
                current = Record("message", words[2], number, int(words[1]), words[3], doc)
            else:
                raise SchemaError(f"{where}: expected 'version N', 'struct NAME' or "
                                  f"'message ID NAME DIR', got '{line}'")
            doc = []
            continue
        if words == ["end"]:
            records.append(current)
            current = None
            continue
        if len(words) != 2 or not re.fullmatch(r"[a-z][a-z0-9_]*", words[1]):
            raise SchemaError(f"{where}: expected 'TYPE field_name', got '{line}'")
        current.fields.append(Field(words[0], words[1], comment.strip(), number))
    if current is not None:
        raise SchemaError(f"{SCHEMA.relative_to(ROOT)}:{current.line}: '{current.name}' has no 'end'")
    if version is None:
        raise SchemaError(f"{SCHEMA.relative_to(ROOT)}: no 'version N' line")
    structs = {r.name: r for r in records if r.kind == "struct"}
    seen_ids, seen_names = {}, set()
    for r in records:
        if r.name in seen_names:
            raise SchemaError(f"{SCHEMA.relative_to(ROOT)}:{r.line}: '{r.name}' is defined twice")
        seen_names.add(r.name)
        if r.kind == "message":
            if r.id in seen_ids:
                raise SchemaError(f"{SCHEMA.relative_to(ROOT)}:{r.line}: id {r.id} is also "
                                  f"'{seen_ids[r.id]}'")
            seen_ids[r.id] = r.name
        for f in r.fields:
            if f.type not in SCALARS and f.type not in structs:
                raise SchemaError(f"{SCHEMA.relative_to(ROOT)}:{f.line}: unknown type '{f.type}'")
            if f.type in structs and list(structs).index(f.type) >= records.index(r) \
                    and r.kind == "struct":
                raise SchemaError(f"{SCHEMA.relative_to(ROOT)}:{f.line}: struct '{f.type}' "
                                  "must be defined before it is used")
    return version, records, structs


def min_size(type_name, structs):
    if type_name in SCALARS:
        return SCALARS[type_name][1]
    return sum(4 if f.array else min_size(f.type, structs) for f in structs[type_name].fields)


HEADER = "// Generated by scripts/gen_mt5_protocol.py from proto/mt5/protocol.schema: do not edit.\n"


def cpp_type(field, structs):
    base = SCALARS[field.type][0] if field.type in SCALARS else camel(field.type)
    return f"std::vector<{base}>" if field.array else base


def gen_header(version, records, structs):
    out = [HEADER, """// The messages of the MT5 protocol (docs/metatrader.md): one struct per struct and message of the
// schema, with its codec. Encode appends the fields to a WireWriter; Decode reads them from a
// WireReader, which records the first field it could not read (aits/mt5/wire.h). Framing and the
// envelope are aits/mt5/frame.h's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aits/mt5/wire.h"

namespace aits::mt5 {

"""]
    out.append(f"inline constexpr uint16_t kProtocolVersion = {version};\n\n")
    out.append("enum class MessageType : uint16_t {\n")
    for r in records:
        if r.kind == "message":
            out.append(f"  k{camel(r.name)} = {r.id},\n")
    out.append("};\n\n")
    out.append("// Who may send a message: the EA, the gateway, or either.\n")
    out.append("enum class Direction : uint8_t { kFromEa, kFromGateway, kBoth };\n\n")
    out.append("// Every message type, in schema order.\n")
    names = [f"MessageType::k{camel(r.name)}" for r in records if r.kind == "message"]
    out.append("inline constexpr MessageType kAllMessageTypes[] = {\n")
    for n in names:
        out.append(f"    {n},\n")
    out.append("};\n\n")
    out.append("// The schema's name of a type (\"hello\"); \"\" for a number the schema does not define.\n")
    out.append("std::string_view MessageName(uint16_t type);\n")
    out.append("// False for a number the schema does not define.\n")
    out.append("bool IsKnownMessage(uint16_t type);\n")
    out.append("// Precondition: IsKnownMessage(type).\n")
    out.append("Direction DirectionOf(MessageType type);\n")
    out.append("// The fewest bytes a message of this type takes after the envelope (empty strings and arrays);\n")
    out.append("// 0 for an unknown type.\n")
    out.append("size_t MinPayloadSize(uint16_t type);\n\n")
    for r in records:
        for d in r.doc:
            out.append(f"// {d}\n" if d else "//\n")
        out.append(f"struct {camel(r.name)} {{\n")
        if r.kind == "message":
            out.append(f"  static constexpr MessageType kType = MessageType::k{camel(r.name)};\n")
            out.append(f"  static constexpr std::string_view kName = \"{r.name}\";\n")
        if r.fields:
            out.append("\n" if r.kind == "message" else "")
        for f in r.fields:
            t = cpp_type(f, structs)
            init = ""
            if not f.array and f.type in SCALARS and f.type != "str":
                init = " = false" if f.type == "bool" else " = 0"
            comment = f"  // {f.comment}" if f.comment else ""
            out.append(f"  {t} {f.name}{init};{comment}\n")
        out.append(f"\n  bool operator==(const {camel(r.name)}&) const = default;\n")
        out.append("};\n")
        out.append(f"void Encode(const {camel(r.name)}& value, WireWriter& out);\n")
        out.append(f"// Reads the fields in order; on failure the reader holds the error, naming the field.\n")
        out.append(f"bool Decode(WireReader& in, {camel(r.name)}& value);\n\n")
    out.append("// Calls f with a default-constructed message of the type's struct (f(Hello{}) for 1); false\n")
    out.append("// for a number the schema does not define. Tests and dispatch tables go over every type with it.\n")
    out.append("template <typename F>\nbool VisitMessageType(uint16_t type, F&& f) {\n  switch (type) {\n")
    for r in records:
        if r.kind == "message":
            out.append(f"    case {r.id}:\n      f({camel(r.name)}{{}});\n      return true;\n")
    out.append("    default:\n      return false;\n  }\n}\n\n")
    out.append("}  // namespace aits::mt5\n")
    return "".join(out)


def gen_source(version, records, structs):
    out = [HEADER, '#include "aits/mt5/messages.h"\n\nnamespace aits::mt5 {\n\n']
    messages = [r for r in records if r.kind == "message"]
    out.append("std::string_view MessageName(uint16_t type) {\n  switch (type) {\n")
    for r in messages:
        out.append(f"    case {r.id}:\n      return \"{r.name}\";\n")
    out.append("    default:\n      return {};\n  }\n}\n\n")
    out.append("bool IsKnownMessage(uint16_t type) { return !MessageName(type).empty(); }\n\n")
    out.append("Direction DirectionOf(MessageType type) {\n  switch (type) {\n")
    for r in messages:
        out.append(f"    case MessageType::k{camel(r.name)}:\n"
                   f"      return Direction::{DIRECTIONS[r.direction]};\n")
    out.append("  }\n  return Direction::kBoth;\n}\n\n")
    out.append("size_t MinPayloadSize(uint16_t type) {\n  switch (type) {\n")
    for r in messages:
        size = sum(4 if f.array else min_size(f.type, structs) for f in r.fields)
        out.append(f"    case {r.id}:\n      return {size};\n")
    out.append("    default:\n      return 0;\n  }\n}\n\n")
    for r in records:
        name = camel(r.name)
        unused = "" if r.fields else "/*value*/"
        unused_io = "" if r.fields else "/*out*/"
        out.append(f"void Encode(const {name}& {unused or 'value'}, WireWriter& {unused_io or 'out'}) {{\n")
        for f in r.fields:
            if f.array:
                out.append(f"  out.Count(value.{f.name}.size());\n")
                out.append(f"  for (const auto& item : value.{f.name}) ")
                if f.type in SCALARS:
                    out.append(f"out.{SCALARS[f.type][2]}(item);\n")
                else:
                    out.append("Encode(item, out);\n")
            elif f.type in SCALARS:
                out.append(f"  out.{SCALARS[f.type][2]}(value.{f.name});\n")
            else:
                out.append(f"  Encode(value.{f.name}, out);\n")
        out.append("}\n\n")
        unused_in = "" if r.fields else "/*in*/"
        out.append(f"bool Decode(WireReader& {unused_in or 'in'}, {name}& {unused or 'value'}) {{\n")
        if not r.fields:
            out.append("  return true;\n}\n\n")
            continue
        out.append("  return")
        parts = []
        for f in r.fields:
            label = f'"{r.name}.{f.name}"'
            if f.array:
                item_min = min_size(f.type, structs)
                if f.type in SCALARS:
                    parts.append(f"in.Array({label}, {item_min}, value.{f.name}, "
                                 f"[](WireReader& r, auto& item) {{ return r.{SCALARS[f.type][2]}"
                                 f"({label}, item); }})")
                else:
                    parts.append(f"in.Array({label}, {item_min}, value.{f.name}, "
                                 f"[](WireReader& r, auto& item) {{ return Decode(r, item); }})")
            elif f.type in SCALARS:
                parts.append(f"in.{SCALARS[f.type][2]}({label}, value.{f.name})")
            else:
                parts.append(f"Decode(in, value.{f.name})")
        out.append(" " + " &&\n         ".join(parts) + ";\n}\n\n")
    out.append("}  // namespace aits::mt5\n")
    return "".join(out)


def gen_json_header(records):
    out = [HEADER, """// The MT5 protocol's messages as JSON objects (field name -> value), for transcripts of a link
// (aits/mt5/transcript.h) and for logs. FromJson needs every field, of its type, and names the
// first one that is missing or wrong in `error`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "aits/mt5/messages.h"

namespace aits::mt5 {

"""]
    for r in records:
        name = camel(r.name)
        out.append(f"void ToJson(const {name}& value, nlohmann::json& out);\n")
        out.append(f"bool FromJson(const nlohmann::json& in, {name}& value, std::string& error);\n")
    out.append("\n}  // namespace aits::mt5\n")
    return "".join(out)


def gen_json_source(records, structs):
    out = [HEADER, '#include "aits/mt5/messages_json.h"\n\n#include "aits/mt5/json_fields.h"\n\n'
           "namespace aits::mt5 {\n\n"]
    for r in records:
        name = camel(r.name)
        value = "value" if r.fields else "/*value*/"
        out.append(f"void ToJson(const {name}& {value}, nlohmann::json& out) {{\n")
        out.append("  out = nlohmann::json::object();\n")
        for f in r.fields:
            if f.array:
                out.append(f"  {{\n    auto& items = out[\"{f.name}\"] = nlohmann::json::array();\n")
                out.append(f"    for (const auto& item : value.{f.name}) ")
                if f.type in SCALARS:
                    out.append("items.push_back(item);\n")
                else:
                    out.append("{\n      nlohmann::json j;\n      ToJson(item, j);\n"
                               "      items.push_back(std::move(j));\n    }\n")
                out.append("  }\n")
            elif f.type in SCALARS:
                out.append(f"  out[\"{f.name}\"] = value.{f.name};\n")
            else:
                out.append(f"  ToJson(value.{f.name}, out[\"{f.name}\"]);\n")
        out.append("}\n\n")
        unused = "" if r.fields else "/*in*/"
        out.append(f"bool FromJson(const nlohmann::json& {unused or 'in'}, {name}& {value}, "
                   f"std::string& {'error' if r.fields else '/*error*/'}) {{\n")
        if not r.fields:
            out.append("  return true;\n}\n\n")
            continue
        parts = []
        for f in r.fields:
            label = f'"{r.name}.{f.name}"'
            if f.array and f.type in SCALARS:
                parts.append(f"json_fields::Array(in, \"{f.name}\", {label}, value.{f.name}, error, "
                             f"[](const nlohmann::json& j, auto& item, std::string& e) {{ "
                             f"return json_fields::Scalar(j, {label}, item, e); }})")
            elif f.array:
                parts.append(f"json_fields::Array(in, \"{f.name}\", {label}, value.{f.name}, error, "
                             f"[](const nlohmann::json& j, auto& item, std::string& e) {{ "
                             f"return FromJson(j, item, e); }})")
            elif f.type in SCALARS:
                parts.append(f"json_fields::Field(in, \"{f.name}\", {label}, value.{f.name}, error)")
            else:
                parts.append(f"json_fields::Object(in, \"{f.name}\", {label}, error, "
                             f"[&](const nlohmann::json& j) {{ return FromJson(j, value.{f.name}, error); }})")
        out.append("  return json_fields::IsObject(in, \"" + r.name + "\", error) &&\n         " +
                   " &&\n         ".join(parts) + ";\n}\n\n")
    out.append("}  // namespace aits::mt5\n")
    return "".join(out)


def outputs():
    version, records, structs = parse(SCHEMA.read_text())
    header = ROOT / "src/aits/mt5/messages.h"
    source = ROOT / "src/aits/mt5/messages.cc"
    files = {
        header: clang_format(header, gen_header(version, records, structs)),
        source: clang_format(source, gen_source(version, records, structs)),
    }
    json_header = ROOT / "src/aits/mt5/messages_json.h"
    json_source = ROOT / "src/aits/mt5/messages_json.cc"
    files[json_header] = clang_format(json_header, gen_json_header(records))
    files[json_source] = clang_format(json_source, gen_json_source(records, structs))
    try:
        import gen_mt5_mql5  # the MQL5 backend, beside this script
    except ImportError:
        gen_mt5_mql5 = None
    if gen_mt5_mql5 is not None:
        files.update(gen_mt5_mql5.outputs(ROOT, version, records, structs, SCALARS, camel))
    return files


def main(argv):
    check = "--check" in argv[1:]
    try:
        files = outputs()
    except SchemaError as error:
        print(f"gen_mt5_protocol: {error}", file=sys.stderr)
        return 2
    stale = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"gen_mt5_protocol: wrote {path.relative_to(ROOT)}")
    if stale:
        print("gen_mt5_protocol: out of date (run scripts/gen_mt5_protocol.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    sys.exit(main(sys.argv))
