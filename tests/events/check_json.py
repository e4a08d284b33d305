#!/usr/bin/env python3
"""check_json.py FILE - parse every line of FILE as JSON (strictly: one
object per line, the fields of a mixfs event in order) and print, for each
detail, "SEQ KEY HEX TRUNCATED" where HEX is the exact bytes the detail
stands for (from KEY_hex when present, else the UTF-8 of the string).
Exits 1 with a message naming the line on the first line that does not
parse or lacks a field."""
import json
import re
import sys

FIELDS = ["seq", "time", "uuid", "mount", "category", "type", "details"]


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        sys.exit("last line does not end with a newline")
    for no, raw in enumerate(data.split(b"\n")[:-1], 1):
        try:
            text = raw.decode("utf-8", errors="strict")
            obj = json.loads(text)
        except Exception as e:
            sys.exit("line %d does not parse: %s: %r" % (no, e, raw[:200]))
        if re.search(rb"\\u[dD][89a-fA-F]", raw):
            sys.exit("line %d holds a surrogate escape: %r" % (no, raw[:200]))
        if list(obj.keys()) != FIELDS:
            sys.exit("line %d has fields %s" % (no, list(obj.keys())))
        if not isinstance(obj["seq"], int):
            sys.exit("line %d: seq is not a number" % no)
        d = obj["details"]
        cut = set(d.get("truncated", "").split(",")) - {""}
        for k, v in d.items():
            if not isinstance(v, str):
                sys.exit("line %d: detail %s is not a string" % (no, k))
            if k.endswith("_hex") or k in ("truncated", "dropped"):
                continue
            b = bytes.fromhex(d[k + "_hex"]) if k + "_hex" in d \
                else v.encode("utf-8")
            print(obj["seq"], k, b.hex() or "-", 1 if k in cut else 0)


main()
