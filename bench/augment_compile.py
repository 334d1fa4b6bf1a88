#!/usr/bin/env python3
"""Do the code operators' outputs still compile? C with gcc, Java with the JDK's compiler, on real programs.

    python bench/augment_compile.py [--limit N]

Re-parsing (bench/augment_coverage.py) cannot see type or scope errors; a compiler can. For the POJ-104 C
programs and the GCJ Java programs of ../shared/data/clone: the programs that compile as given are
transformed by each code operator (one seed per program) and compiled again; the count of outputs that no
longer compile must be 0. Java sources are compiled in one JVM (javax.tools) to keep it to a minute.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clone"
BATCH_JAVA = """import javax.tools.*; import java.io.*; import java.nio.file.*; import java.util.*;
public class Batch { public static void main(String[] a) throws Exception {
  JavaCompiler c = ToolProvider.getSystemJavaCompiler();
  BufferedReader in = new BufferedReader(new InputStreamReader(System.in)); String line;
  while ((line = in.readLine()) != null) {
    Path out = Files.createTempDirectory("jc"); DiagnosticCollector<JavaFileObject> d = new DiagnosticCollector<>();
    StandardJavaFileManager fm = c.getStandardFileManager(d, null, null);
    boolean ok = c.getTask(null, fm, d, Arrays.asList("-d", out.toString(), "-nowarn", "-proc:none"), null,
                           fm.getJavaFileObjects(line)).call();
    String msg = "";
    for (Diagnostic<?> x : d.getDiagnostics()) if (x.getKind() == Diagnostic.Kind.ERROR) {
      msg = x.getMessage(null).split("\\n")[0]; break; }
    System.out.println((ok ? "OK" : "FAIL") + "\\t" + line + "\\t" + msg); System.out.flush(); } } }
"""


def compile_c(sources: dict[str, str], work: Path) -> dict[str, str | None]:
    """name -> None if gcc accepts it, else the first error line."""
    out = {}
    for name, src in sources.items():
        path = work / f"{name}.c"
        path.write_text(src)
        r = subprocess.run(["gcc", "-std=gnu99", "-w", "-fsyntax-only", str(path)], capture_output=True, text=True)
        out[name] = None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]
    return out


def compile_java(sources: dict[str, str], work: Path) -> dict[str, str | None]:
    if not (work / "Batch.class").exists():
        (work / "Batch.java").write_text(BATCH_JAVA)
        subprocess.run(["javac", "-d", str(work), str(work / "Batch.java")], check=True, capture_output=True)
    paths = {}
    for name, src in sources.items():
        cls = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", src)
        d = work / name
        d.mkdir(exist_ok=True)
        paths[str(d / f"{cls.group(1) if cls else 'Main'}.java")] = name
        Path(next(p for p, n in paths.items() if n == name)).write_text(src)
    r = subprocess.run(["java", "-cp", str(work), "Batch"], input="\n".join(paths) + "\n", capture_output=True,
                       text=True)
    result = {}
    for line in r.stdout.splitlines():
        status, path, msg = (line.split("\t") + ["", ""])[:3]
        result[paths[path]] = None if status == "OK" else msg
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=0, help="use only the first N programs of each file")
    args = p.parse_args()
    from codeintel.augment import operators
    from codeintel.augment.core import NotApplicable
    from codeintel.structure.parsing import count_errors, parse

    sets = [("c", DATA / "poj104_dev.jsonl", "code", "gcc", compile_c),
            ("java", DATA / "gcj_programs.jsonl", "func", "javac", compile_java)]
    failed = False
    for lang, path, key, tool, compile_all in sets:
        if not path.is_file() or shutil.which(tool) is None:
            print(f"skip {lang}: {path.name} or {tool} missing")
            continue
        codes = [json.loads(line)[key] for line in path.open()]
        codes = codes[: args.limit] if args.limit else codes
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            parsed = {f"p{i}": c for i, c in enumerate(codes) if count_errors(parse(c, lang)) == 0}
            ok = {n: parsed[n] for n, err in compile_all(parsed, work).items() if err is None}
            print(f"\n{lang}: {len(codes)} programs, {len(ok)} parse and compile as given")
            variants = {}
            for name, op in sorted(operators().items()):
                if op.kind != "code":
                    continue
                for n, code in ok.items():
                    try:
                        variants[f"{name}-{n}"] = op.fn(code, lang, random.Random(n), **op.params)
                    except NotApplicable:
                        pass
            results = compile_all(variants, work)
            applied, broken = Counter(), Counter()
            for v, err in results.items():
                op = v.rsplit("-", 1)[0]
                applied[op] += 1
                if err is not None:
                    broken[op] += 1
                    print(f"  does not compile: {v}: {err[:150]}")
            for op in sorted(applied):
                print(f"{op:20} applied {applied[op]:5}   no longer compile {broken[op]}")
            failed |= sum(broken.values()) > 0
    print("\nall outputs compile:", "no" if failed else "yes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
