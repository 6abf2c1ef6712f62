#!/usr/bin/env python3
"""Static checks of the Expert Advisor (clients/metatrader/MQL5), which nothing compiles in CI:

  1. dispatch: AitsBridge.mq5 has a `case AITS_MSG_<NAME>:` for every message of
     proto/mt5/protocol.schema that the gateway may send (direction gw or both), and calls
     AitsAppend<Name> for every message the EA may send (ea or both);
  2. names: every function called, every UPPER_CASE constant and every member after a '.' used
     in the EA and its includes is either declared there or listed in
     tests/mt5/mql5_reference.txt, the names reviewed against the MQL5 reference (a typo fails
     here, not in the user's MetaEditor);
  3. the AITS_ERR_* numbers and the fatal ones in Wire.mqh are ErrorCode's in src/aits/mt5/mql.h
     and IsFatal's in mql.cc;
  4. the MQL5 sources are ASCII (MetaEditor reads a file without a BOM as ANSI).

Each check is then run on mutated copies (a case removed, a misspelt call, a changed error
number, a non-ASCII character) and must fail on each, so that the checks themselves are tested.
Exit 0 when everything holds, 1 naming every failure.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_mt5_protocol  # noqa: E402
import gen_mt5_mql5  # noqa: E402

MQL5 = ROOT / "clients/metatrader/MQL5"
EA = MQL5 / "Experts/Aits/AitsBridge.mq5"
INCLUDES = [MQL5 / "Include/Aits/Wire.mqh", MQL5 / "Include/Aits/Protocol.mqh",
            MQL5 / "Include/Aits/Stream.mqh"]
REFERENCE = ROOT / "tests/mt5/mql5_reference.txt"

KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "case", "else", "do", "new", "delete",
    "void", "bool", "int", "uint", "long", "ulong", "double", "string", "uchar", "ushort", "char",
    "short", "float", "datetime", "color", "const", "static", "input", "struct", "class", "union",
    "public", "private", "protected", "virtual", "true", "false", "this", "default", "break",
    "continue", "operator", "template", "typename", "enum", "property", "include", "define",
}
# Words before a name that make `word name(` a call, not a definition.
NOT_TYPES = {"return", "else", "case", "new", "delete", "do"}


def strip(text):
    """The code without comments, string literals and character literals."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "0", text)
    text = re.sub(r"#(?:include|property)[^\n]*", "", text)
    return re.sub(r"//[^\n]*", "", text)


def load_reference(text):
    names = set()
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        names.update(code.split())
    return names


def check_dispatch(ea_code, records):
    errors = []
    messages = [r for r in records if r.kind == "message"]
    for r in messages:
        const = "AITS_MSG_" + gen_mt5_mql5.upper(r.name)
        append = "AitsAppend" + gen_mt5_protocol.camel(r.name) + "("
        if r.direction in ("gw", "both") and not re.search(r"\bcase\s+" + const + r"\s*:", ea_code):
            errors.append(f"AitsBridge.mq5 has no 'case {const}:' for '{r.name}' (the gateway sends it)")
        if r.direction in ("ea", "both") and append not in ea_code:
            errors.append(f"AitsBridge.mq5 never calls {append}...) for '{r.name}' (the EA sends it)")
    return errors


def check_names(codes, reference):
    """codes: {file name: stripped code}."""
    defined = set()
    for code in codes.values():
        defined.update(re.findall(r"#define\s+(\w+)", code))
        defined.update(re.findall(r"\b(?:struct|class|union)\s+(\w+)", code))
        for word, name in re.findall(r"\b(\w+)[\s&*]+(\w+)\s*\(", code):
            if word not in NOT_TYPES:
                defined.add(name)
    # Members: every name declared as `type name;` or `type name[];` (struct and class members,
    # and locals: over-inclusive, but a misspelt member is rarely another declared name).
    members = set(defined)
    for code in codes.values():
        members.update(re.findall(r"^\s*(?:const\s+)?\w+\s+(\w+)(?:\[\])?\s*;", code, re.M))
    errors = []
    for file, code in codes.items():
        for name in sorted(set(re.findall(r"\.\s*([A-Za-z_]\w*)", code)) - members - reference):
            errors.append(f"{file}: member '.{name}' is declared neither in the EA's sources nor "
                          f"among the MQL5 structures' fields in tests/mt5/mql5_reference.txt")
        used = set()
        for match in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", code):
            used.add(match.group(1))
        used.update(re.findall(r"(?<![\w.])([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", code))
        for name in sorted(used - defined - KEYWORDS - reference):
            errors.append(f"{file}: '{name}' is neither defined in the EA's sources nor in "
                          f"tests/mt5/mql5_reference.txt (a typo, or a function to review)")
    return errors


def check_error_codes(wire_code, mql_h, mql_cc):
    errors = []
    enum = re.search(r"enum class ErrorCode[^{]*\{(.*?)\};", mql_h, re.S)
    cpp = {}
    for name, value in re.findall(r"\bk(\w+)\s*=\s*(\d+)", enum.group(1) if enum else ""):
        cpp[re.sub(r"(?<!^)([A-Z])", r"_\1", name).upper()] = int(value)
    mql = {name: int(v) for name, v in re.findall(r"#define\s+AITS_ERR_(\w+)\s+(\d+)", wire_code)}
    if not cpp:
        errors.append("src/aits/mt5/mql.h: no ErrorCode enum found")
    if cpp != mql:
        errors.append(f"Wire.mqh's AITS_ERR_* {sorted(mql.items())} differ from mql.h's ErrorCode "
                      f"{sorted(cpp.items())}")
    fatal_body = re.search(r"bool IsFatal\(ErrorCode code\)(.*?)\n}", mql_cc, re.S)
    cpp_fatal = {re.sub(r"(?<!^)([A-Z])", r"_\1", n).upper()
                 for n in re.findall(r"case ErrorCode::k(\w+):", fatal_body.group(1) if fatal_body else "")}
    mql_body = re.search(r"bool AitsIsFatalError\(.*?\{(.*?)\}", wire_code, re.S)
    mql_fatal = set(re.findall(r"AITS_ERR_(\w+)", mql_body.group(1) if mql_body else ""))
    if not cpp_fatal or cpp_fatal != mql_fatal:
        errors.append(f"AitsIsFatalError's codes {sorted(mql_fatal)} differ from IsFatal's {sorted(cpp_fatal)}")
    return errors


def check_ascii(texts):
    errors = []
    for file, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            if any(ord(ch) > 127 for ch in line):
                errors.append(f"{file}:{number}: non-ASCII character (MetaEditor reads it as ANSI)")
    return errors


def run(texts, records, reference, mql_h, mql_cc):
    codes = {name: strip(text) for name, text in texts.items()}
    return (check_dispatch(codes["AitsBridge.mq5"], records) + check_names(codes, reference) +
            check_error_codes(codes["Wire.mqh"], mql_h, mql_cc) + check_ascii(texts))


def main():
    _, records, _ = gen_mt5_protocol.parse(gen_mt5_protocol.SCHEMA.read_text())
    texts = {p.name: p.read_text() for p in [EA] + INCLUDES}
    reference = load_reference(REFERENCE.read_text())
    mql_h = (ROOT / "src/aits/mt5/mql.h").read_text()
    mql_cc = (ROOT / "src/aits/mt5/mql.cc").read_text()
    errors = run(texts, records, reference, mql_h, mql_cc)
    for e in errors:
        print(f"check_ea: {e}", file=sys.stderr)
    if errors:
        return 1

    # The checks must catch what they are for.
    mutants = {
        "a missing case": ("AitsBridge.mq5", "case AITS_MSG_CLOSE_BY:", "case 35:"),
        "a misspelt library call": ("AitsBridge.mq5", "SymbolInfoTick(", "SymbolInfoTik("),
        "a misspelt constant": ("AitsBridge.mq5", "ORDER_TIME_SETUP_MSC", "ORDER_TIME_SETUP_MS"),
        "a changed error number": ("Wire.mqh", "#define AITS_ERR_BUSY 9", "#define AITS_ERR_BUSY 19"),
        "a non-ASCII character": ("Wire.mqh", "// Hand-written", "// Hand\u2013written"),
        "an unsent message": ("AitsBridge.mq5", "AitsAppendDeals(", "AitsAppendDeal("),
        "a misspelt MQL5 field": ("AitsBridge.mq5", "ticks[i + j].volume_real", "ticks[i + j].volume_rea"),
        "a misspelt protocol field": ("AitsBridge.mq5", "m.margin_so_call", "m.margin_socall"),
    }
    blind = []
    for what, (file, old, new) in mutants.items():
        if old not in texts[file]:
            blind.append(f"mutant '{what}': '{old}' is not in {file} any more (update the mutant)")
            continue
        mutated = dict(texts)
        mutated[file] = texts[file].replace(old, new, 1)
        if not run(mutated, records, reference, mql_h, mql_cc):
            blind.append(f"the checks pass with {what} ({file}: '{old}' -> '{new}')")
    for b in blind:
        print(f"check_ea: {b}", file=sys.stderr)
    if blind:
        return 1
    gw = sum(1 for r in records if r.kind == "message" and r.direction in ("gw", "both"))
    print(f"check_ea: {gw} gateway message types dispatched, library names reviewed, "
          f"{len(mutants)} mutants caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
