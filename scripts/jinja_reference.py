#!/usr/bin/env python3
"""Reference renderings from Python's jinja2 for the C++ renderer's tests.

A developer tool, not a test dependency: it needs Python's jinja2 (3.1, e.g.
Debian's python3-jinja2) and writes files that are committed.

  jinja_reference.py check tests/data/jinja/semantics.json
      checks each hand-written expectation against jinja2
  jinja_reference.py random --seeds 1,2,3 --simple-seeds 4,5 --count 100 > tests/data/jinja/random.jsonl
      random templates (statements, whitespace control, expressions over
      filters, tests, methods, literals) with jinja2's output or error class;
      the first line holds the variables every case is rendered with

The environment is Hugging Face transformers' chat-template environment, as
../shared/data/golden/templates/README.md describes (strftime_now fixed at
2026-11-22). Cases whose jinja2 result depends on Python's object model rather
than on the template language are left out: outputs with memory addresses,
and the Python class behaviour of the `dict`/`namespace` globals.
"""
import argparse
import datetime
import json
import random
import signal
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox


def environment():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def strftime_now(fmt):
        return datetime.datetime(2026, 11, 22).strftime(fmt)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = environment()
# jinja2 raises these Python classes; the C++ renderer reports them by name.
CLASS_ALIASES = {"TemplateAssertionError": "TemplateSyntaxError", "FilterArgumentError": "TemplateRuntimeError",
                 "RecursionError": "RenderLimitError"}


def render(template, variables):
    try:
        return {"out": ENV.from_string(template).render(**variables)}
    except Exception as e:  # noqa: BLE001 - every jinja2 failure is a result here
        name = type(e).__name__
        return {"error": CLASS_ALIASES.get(name, name), "message": str(e)}


def check(path):
    data = json.load(open(path, encoding="utf-8"))
    wrong = 0
    for case in data["cases"]:
        got = render(case["template"], data["variables"])
        want = case["expected"]
        ok = got.get("out") == want if "out" in got else want == "!" + got["error"]
        if not ok:
            wrong += 1
            print(f"WRONG {case['group']}: {case['template']!r}\n  expected {want!r}\n  jinja2   {got!r}")
    print(f"{len(data['cases'])} cases, {wrong} disagree with jinja2 {jinja2.__version__}")
    return 1 if wrong else 0


# ---- random templates ----

VARS = {"xs": [1, 2, 3], "d": {"a": 1, "b": [1, 2], "c": {"x": "y"}}, "s": "Hello World", "n": None, "f": 1.5,
        "e": [], "ss": ["b", "A", "c"], "u8": "café Zürich 🐈 ΣΑΣ", "i": 7, "neg": -3, "t": True, "z": 0,
        "sp": "  pad\n  ", "js": '{"k": [1, 2]}',
        "users": [{"name": "bob", "age": 30, "city": "NY"}, {"name": "Al", "age": 25, "city": "ca"},
                  {"name": "cy", "age": 30, "city": "CA"}],
        "msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi <b>"},
                 {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}]}
NAMES = list(VARS) + ["undef", "loop", "ns", "m", "range"]
STRS = ["''", "'a'", "'abc'", "'a b c'", "'\\n'", "' x '", "'é'", "'A'", "'1'", "'2.5'", "'%s'", "'{}'", "'<'", "'role'",
        "'name'", "'a,b'", "\"it's\"", "'\\t'", "'ΣΑΣ'"]
FILTERS = ["length", "count", "first", "last", "join", "default", "d", "trim", "upper", "lower", "title", "capitalize",
           "replace", "list", "map", "select", "reject", "selectattr", "rejectattr", "tojson", "string", "int", "float",
           "abs", "round", "indent", "items", "dictsort", "unique", "sum", "min", "max", "reverse", "sort", "batch",
           "slice", "wordcount", "center", "truncate", "safe", "e", "escape", "striptags", "format", "groupby", "attr",
           "xmlattr", "urlencode"]
TESTS = ["defined", "undefined", "none", "boolean", "string", "number", "integer", "float", "mapping", "iterable",
         "sequence", "callable", "odd", "even", "divisibleby", "eq", "ne", "lt", "gt", "le", "ge", "in", "sameas", "true",
         "false", "lower", "upper", "escaped", "filter", "test"]
METHODS = ["strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower", "title",
           "capitalize", "find", "count", "join", "format", "items", "keys", "values", "get", "splitlines", "index",
           "partition", "zfill", "center", "isdigit", "isalpha", "append", "pop", "copy"]
TEXT = ["", "x", " ", "\n", "  ", "\n  ", " a\n", "\t", "\n\n", "text ", "\n    ", " \n", "\r\n", "\n\t\n "]


class Generator:
    def __init__(self, seed, simple):
        self.r = random.Random(seed)
        self.simple = simple

    def lit(self, depth):
        r = self.r
        k = r.randrange(8)
        if k == 0: return str(r.choice([0, 1, 2, 3, -1, 10, 255]))
        if k == 1: return r.choice(["0.5", "1.0", "2.5", "1e3", "0.1", "3.14159", "1e-7", "1e20"])
        if k == 3: return r.choice(["none", "true", "false", "None", "True"])
        if k == 4 and depth > 0: return "[" + ", ".join(self.expr(depth - 1) for _ in range(r.randrange(4))) + "]"
        if k == 5 and depth > 0: return "(" + ", ".join(self.expr(depth - 1) for _ in range(r.randrange(1, 4))) + ",)"
        if k == 6 and depth > 0:
            return "{" + ", ".join(f"{r.choice(STRS)}: {self.expr(depth - 1)}" for _ in range(r.randrange(3))) + "}"
        return r.choice(STRS)

    def expr(self, depth=3):
        r = self.r
        if self.simple:
            return r.choice(["x", "xs", "s", "n", "'a'", "1", "loop.index", "d.a", "ns.a", "xs|length", "s|trim",
                             "undef", "(xs|first)", "d['b']"])
        if depth <= 0: return r.choice([self.lit(0), r.choice(NAMES)])
        e = self.expr
        k = r.randrange(16)
        if k == 0: return self.lit(depth)
        if k == 1: return r.choice(NAMES)
        if k == 2:
            op = r.choice(["+", "-", "*", "/", "//", "%", "~", "and", "or", "==", "!=", "<", ">", "<=", ">=", "in", "not in"])
            return f"({e(depth - 1)} {op} {e(depth - 1)})"
        if k == 3: return f"({r.choice(['not ', '-', '+'])}{e(depth - 1)})"
        if k == 4:
            f = r.choice(FILTERS)
            a = ""
            if f == "map": a = r.choice(["('upper')", "(attribute='name')", "('string')", "('length')", "('default', 'q')"])
            elif f in ("select", "reject"): a = r.choice(["('odd')", "('defined')", "", "('equalto', 2)", "('string')"])
            elif f in ("selectattr", "rejectattr"):
                a = r.choice(["('role')", "('role', 'equalto', 'user')", "('age', 'gt', 26)", "('name', 'defined')"])
            elif f == "groupby": a = r.choice(["('city')", "('age')"])
            elif f == "tojson": a = r.choice(["", "(indent=2)", "(separators=(',', ':'))", "(sort_keys=true)", "(ensure_ascii=true)"])
            elif f in ("sort", "unique", "max", "min"): a = r.choice(["", "(reverse=true)", "(attribute='age')", "(case_sensitive=true)"])
            elif f in ("join", "default", "d", "replace", "round", "indent", "batch", "slice", "center", "truncate",
                       "format", "attr", "trim", "int"):
                a = "(" + ", ".join(e(depth - 1) for _ in range(r.randrange(3))) + ")"
            return f"({e(depth - 1)}|{f}{a})"
        if k == 5:
            t = r.choice(TESTS)
            a = ""
            if t in ("divisibleby", "eq", "ne", "lt", "gt", "le", "ge", "in", "sameas"):
                a = " " + self.lit(0) if r.random() < .5 else "(" + e(depth - 1) + ")"
            return f"({e(depth - 1)} is {'not ' if r.random() < .3 else ''}{t}{a})"
        if k == 6:
            attr = r.choice(["role", "content", "name", "a", "b", "x", "0", "1", "items", "keys", "upper", "length",
                             "tool_calls", "grouper", "index", "t"])
            return f"{e(depth - 1)}.{attr}"
        if k == 7: return f"{e(depth - 1)}[{r.choice([self.lit(0), '0', '-1', '1:', ':2', '::-1', '1:3', r.choice(STRS)])}]"
        if k == 8: return f"{e(depth - 1)}.{r.choice(METHODS)}({', '.join(e(depth - 1) for _ in range(r.randrange(3)))})"
        if k == 9: return f"({e(depth - 1)} if {e(depth - 1)} else {e(depth - 1)})"
        if k == 10: return f"({e(depth - 1)} if {e(depth - 1)})"
        if k == 11: return f"range({r.randrange(-2, 6)})"
        if k == 12: return f"namespace(a={e(depth - 1)})"
        if k == 13: return f"{e(depth - 1)} ~ {e(depth - 1)}"
        if k == 14: return r.choice(["xs", "users", "msgs", "ss", "d", "s", "u8", "e"])
        attr = r.choice(["index", "index0", "first", "last", "length", "revindex", "previtem", "nextitem", "depth"])
        return f"(loop.{attr} if loop is defined else 0)"

    def ws(self):
        return self.r.choice(["", "-", "+", ""]) if self.r.random() < .5 else ""

    def stmts(self, depth=3):
        r = self.r
        out = []
        for _ in range(r.randrange(1, 4)):
            k = r.randrange(9) if depth > 0 else 0
            o, c = "{%" + self.ws(), self.ws() + "%}"
            out.append(r.choice(TEXT))
            if k <= 2:
                out.append("{{" + r.choice(["", "-"]) + " " + self.expr() + " " + r.choice(["", "-"]) + "}}")
            elif k == 3:
                other = "{%" + self.ws() + " else " + self.ws() + "%}" + self.stmts(depth - 1) if r.random() < .5 else ""
                out.append(f"{o} if {self.expr(2)} {c}{self.stmts(depth - 1)}{other}{o} endif {c}")
            elif k == 4:
                tgt, it = r.choice([("x", r.choice(["xs", "ss", "users", "msgs", "e", "s", "range(3)", "d", "d.items()", "u8"])),
                                    ("k, v", r.choice(["d.items()", "d|dictsort", "[[1,2],[3,4]]", "users|groupby('age')"]))])
                cond = f" if {self.expr(1)}" if r.random() < .2 else ""
                body = self.stmts(depth - 1)
                if r.random() < .2:
                    body += r.choice(["{% break %}", "{% continue %}", "{% if loop.first %}{% continue %}{% endif %}"])
                other = "{% else %}" + self.stmts(depth - 1) if r.random() < .3 else ""
                out.append(f"{o} for {tgt} in {it}{cond} {c}{body}{other}{o} endfor {c}")
            elif k == 5: out.append(f"{o} set {r.choice(['y', 'z', 's', 'xs', 'ns.a'])} = {self.expr(2)} {c}")
            elif k == 6: out.append(f"{o} set ns = namespace(a={self.expr(1)}) {c}")
            elif k == 7:
                out.append(f"{o} macro m(p, q={self.lit(0)}) {c}{self.stmts(depth - 1)}{{{{ p }}}}{{{{ q }}}}"
                           f"{o} endmacro {c}{{{{ m({self.expr(1)}) }}}}")
            else: out.append("{#" + self.ws() + " c " + self.ws() + "#}")
            out.append(r.choice(TEXT))
        return "".join(out)


# Results that come from Python's object model, not the template language.
def python_artifact(result):
    text = result.get("out", "") + result.get("message", "")
    markers = [" at 0x", "descriptor '", "unbound method", "dict expected at most", "dictionary update sequence",
               "type 'Namespace' is not subscriptable", "'type' object", "<class '", "range.index()", "safe_range"]
    return any(m in text for m in markers)


def timeout(signum, frame):
    raise TimeoutError()


def random_cases(seed, count, simple):
    gen = Generator(seed, simple)
    signal.signal(signal.SIGALRM, timeout)
    made = 0
    while made < count:
        template = gen.stmts()
        signal.alarm(2)
        try:
            result = render(template, VARS)
        except TimeoutError:
            continue
        finally:
            signal.alarm(0)
        if python_artifact(result):
            continue
        print(json.dumps({"template": template, **result}, ensure_ascii=False))
        made += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("file")
    g = sub.add_parser("random")
    g.add_argument("--seeds", default="1", help="comma-separated seeds of full random templates")
    g.add_argument("--simple-seeds", default="", help="seeds of templates with simple expressions (statements, whitespace)")
    g.add_argument("--count", type=int, default=100, help="cases per seed")
    a = ap.parse_args()
    if a.cmd == "check":
        sys.exit(check(a.file))
    print(json.dumps({"variables": VARS}, ensure_ascii=False))
    for seed in filter(None, a.seeds.split(",")):
        random_cases(int(seed), a.count, False)
    for seed in filter(None, a.simple_seeds.split(",")):
        random_cases(int(seed), a.count, True)


if __name__ == "__main__":
    main()
