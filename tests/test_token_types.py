"""Token types from the syntax tree: labels worked out by hand for every language, ERROR regions, offsets,
sub-token propagation, the CLI."""

import json

import pytest

from codeintel.cli import main
from codeintel.structure.token_types import IGNORE, LABELS, align, token_types

# (language, code, "token/label" for every token; labels shortened to their first three letters)
CASES = [
    ("python", 'class A:\n    def f(self, x: int) -> str:\n        y = x.size + 3.5  # c\n'
               '        return str(self.g(y), "s")\n',
     'class/key A/typ :/pun def/key f/fun (/pun self/var ,/pun x/var :/pun int/typ )/pun ->/pun str/typ :/pun '
     'y/var =/ope x/var ./pun size/fie +/ope 3.5/num # c/com return/key str/fun (/pun self/var ./pun g/fun (/pun '
     'y/var )/pun ,/pun "s"/str )/pun'),
    ("java", 'class A { int f(int x) { String s = "a"; this.n = Math.max(x, 2); return s.length(); } }',
     'class/key A/typ {/pun int/typ f/fun (/pun int/typ x/var )/pun {/pun String/typ s/var =/ope "a"/str ;/pun '
     'this/key ./pun n/fie =/ope Math/var ./pun max/fun (/pun x/var ,/pun 2/num )/pun ;/pun return/key s/var '
     './pun length/fun (/pun )/pun ;/pun }/pun }/pun'),
    ("javascript", "class A { f(x) { const y = x.size + 2; return obj.g(y, `t`); } }\nfunction h(a) { return h(a); }",
     'class/key A/typ {/pun f/fun (/pun x/var )/pun {/pun const/key y/var =/ope x/var ./pun size/fie +/ope 2/num '
     ';/pun return/key obj/var ./pun g/fun (/pun y/var ,/pun `t`/str )/pun ;/pun }/pun }/pun function/key h/fun '
     '(/pun a/var )/pun {/pun return/key h/fun (/pun a/var )/pun ;/pun }/pun'),
    ("go", 'package main\nfunc (r *T) F(x int) string { y := x + 1; return fmt.Sprint(r.n, "s") }',
     'package/key main/var func/key (/pun r/var */ope T/typ )/pun F/fun (/pun x/var int/typ )/pun string/typ '
     '{/pun y/var :=/ope x/var +/ope 1/num ;/pun return/key fmt/var ./pun Sprint/fun (/pun r/var ./pun n/fie '
     ',/pun "s"/str )/pun }/pun'),
    ("ruby", 'class A\n  def f(x)\n    y = x.size + 2\n    puts(y, "s")\n  end\nend',
     'class/key A/typ def/key f/fun (/pun x/var )/pun y/var =/ope x/var ./pun size/fun +/ope 2/num puts/fun '
     '(/pun y/var ,/pun "s"/str )/pun end/key end/key'),
    ("php", '<?php class A { function f($x) { $y = $x->n + 2; return strlen($this->g($y)); } }',
     '<?php/oth class/key A/typ {/pun function/key f/fun (/pun $/pun x/var )/pun {/pun $/pun y/var =/ope $/pun '
     'x/var ->/pun n/fie +/ope 2/num ;/pun return/key strlen/fun (/pun $/pun this/var ->/pun g/fun (/pun $/pun '
     'y/var )/pun )/pun ;/pun }/pun }/pun'),
    ("c_sharp", 'class A { int F(int x) { var s = "a"; return Math.Max(x.Length, 2); } }',
     'class/key A/typ {/pun int/typ F/fun (/pun int/typ x/var )/pun {/pun var/key s/var =/ope "a"/str ;/pun '
     'return/key Math/var ./pun Max/fun (/pun x/var ./pun Length/fie ,/pun 2/num )/pun ;/pun }/pun }/pun'),
    ("c", 'struct P { int x; };\nint f(struct P *p) { int y = p->x + 0x1; return g(y, "s"); }',
     'struct/key P/typ {/pun int/typ x/fie ;/pun }/pun ;/pun int/typ f/fun (/pun struct/key P/typ */ope p/var '
     ')/pun {/pun int/typ y/var =/ope p/var ->/pun x/fie +/ope 0x1/num ;/pun return/key g/fun (/pun y/var ,/pun '
     '"s"/str )/pun ;/pun }/pun'),
    ("cpp", 'class A { public: int f(int x) { std::string s = "a"; return obj.g(x) + 1; } };',
     'class/key A/typ {/pun public/key :/pun int/typ f/fun (/pun int/typ x/var )/pun {/pun std/typ ::/pun '
     'string/typ s/var =/ope "a"/str ;/pun return/key obj/var ./pun g/fun (/pun x/var )/pun +/ope 1/num ;/pun '
     '}/pun }/pun ;/pun'),
]


@pytest.mark.parametrize("lang,code,expected", CASES, ids=[c[0] for c in CASES])
def test_labels_worked_out_by_hand(lang, code, expected):
    got = " ".join(f"{text}/{label[:3]}" for _, _, text, label in token_types(code, lang))
    assert got == expected


def test_a_call_makes_a_function_and_a_member_access_a_field():
    labels = {t: lab for _, _, t, lab in token_types("a.run()\nb = a.size\n", "python")}
    assert labels["run"] == "function" and labels["size"] == "field" and labels["a"] == "variable"


def test_unparsable_code_is_labelled_other_never_dropped():
    code = "def f(:\n  x = = 1\n"
    spans = token_types(code, "python")
    assert "".join(t for _, _, t, _ in spans) == "".join(code.split())   # every character of code is in a token
    assert {lab for *_, lab in spans} == {"other"}
    ok = token_types("x = 1\n$$$\ny = 2\n", "python")                      # an error region in the middle
    assert [lab for _, _, t, lab in ok if t in ("x", "y")] == ["variable", "variable"]


def test_offsets_are_characters_with_non_ascii_text():
    code = 'x = "héllo wörld"; y = x'
    spans = token_types(code, "javascript")
    assert all(code[s:e] == t for s, e, t, _ in spans)
    assert (spans[2][2], spans[2][3]) == ('"héllo wörld"', "string")
    assert spans[-1][:2] == (len(code) - 1, len(code)) and spans[-1][3] == "variable"


def test_labels_reach_every_sub_token():
    from codeintel.backbones.loading import shipped_tokenizer

    tok = shipped_tokenizer("code-bpe-8k")
    code = "def get_value(self):\n    return self._value_cache"
    ids, labels = align(code, "python", tok)
    pieces = tok.convert_ids_to_tokens(ids)
    assert labels[0] == labels[-1] == IGNORE                                 # <s> and </s>
    named = [(p, LABELS[lab] if lab != IGNORE else None) for p, lab in zip(pieces, labels, strict=True)]
    # get_value is one leaf split into several pieces: all of them are "function"
    start = next(i for i, (p, _) in enumerate(named) if "get" in p)
    run = []
    for p, lab in named[start:]:
        if lab != "function":
            break
        run.append(p)
    assert "".join(run).replace("Ġ", "") == "get_value" and len(run) > 1
    assert all(lab is None for p, lab in named if p.strip("ĠĊ") == "")      # whitespace pieces are ignored
    assert ("cache", "field") in named


def test_cli_text_and_json(tmp_path, capsys):
    src = tmp_path / "a.go"
    src.write_text('package main\nfunc F() { fmt.Println("x") }\n')
    assert main(["token-types", str(src)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1:1\tkeyword\tpackage" and "2:16\tfunction\tPrintln" in out
    assert out[-1].startswith("# ")
    assert main(["token-types", str(src), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[1] == {"start": 8, "end": 12, "text": "main", "label": "variable"}
    assert main(["token-types", str(src), "--lang", "cobol"]) == 2
    assert "error:" in capsys.readouterr().err


def test_streamed_output_equals_the_list_and_offsets_hold_beyond_ascii(tmp_path, capsys):
    """token-types prints as it walks (a 10 MB file's tokens are never all held): its JSON equals the list
    token_types() returns, and character offsets stay right with 2-, 3- and 4-byte characters."""
    import json

    from codeintel.cli import main
    from codeintel.structure.token_types import token_types

    code = "def café(x):\n    s = '中文 😀'  # ünï\n    return x + len(s)\n" * 3
    spans = token_types(code, "python")
    assert all(code[s:e] == t for s, e, t, _ in spans)
    assert ("café" in [t for *_, t, _ in spans]) and any(lab == "function" for *_, lab in spans)
    src = tmp_path / "u.py"
    src.write_text(code, encoding="utf-8")
    assert main(["token-types", str(src), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"start": s, "end": e, "text": t, "label": lab}
                                                   for s, e, t, lab in spans]
    assert main(["token-types", str(src)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(spans) + 1 and lines[0] == "1:1\tkeyword\tdef" and lines[1] == "1:5\tfunction\tcafé"
    assert lines[-1].startswith("# ")
