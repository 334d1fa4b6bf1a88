"""Small Python functions with inputs and expected outputs: the semantics test set for the code operators.

Each entry is (source, [(args, expected result), ...]). The source defines exactly one top-level function.
Test data for tests/test_augment.py; not imported by the package.
"""

CASES = [
    ('''def total(xs, n):
    """Sum the items below n; count the others."""
    s = 0
    t = 1
    for i in range(len(xs)):
        if xs[i] < n:
            s += xs[i]
        else:
            t = t * 2
    return s + t
''', [(([1, 5, 2, 8], 4), 7), (([], 3), 1), (([9, 9], 1), 4)]),
    ('''def fact(n):
    if n <= 1:
        return 1
    else:
        return n * fact(n - 1)
''', [((5,), 120), ((0,), 1), ((1,), 1)]),
    ('''def evens(n):
    out = []
    for i in range(0, n, 2):
        if i == 4:
            continue
        out.append(i)
    return out
''', [((10,), [0, 2, 6, 8]), ((3,), [0, 2])]),
    ('''def last_index(xs, v):
    for i in range(len(xs)):
        if xs[i] == v:
            break
    return i
''', [(([3, 4, 5], 4), 1), (([3, 4, 5], 9), 2)]),
    ('''def countdown(n):
    seq = []
    for k in range(n, 0, -1):
        seq.append(k)
    return seq
''', [((4,), [4, 3, 2, 1]), ((0,), [])]),
    ('''def grow(xs):
    for i in range(len(xs)):
        xs.append(xs[i])
    return xs
''', [(([1, 2],), [1, 2, 1, 2]), (([],), [])]),
    ('''def swap_pair(a, b):
    a, b = b, a
    c = a - b
    return a, b, c
''', [((1, 2), (2, 1, 1)), ((5, 5), (5, 5, 0))]),
    ('''def shadow(x):
    def inner(x):
        y = x * 2
        return y
    y = inner(x + 1)
    return x + y
''', [((3,), 11), ((0,), 2)]),
    ('''def closure(n):
    acc = 0
    def add(v):
        nonlocal acc
        acc += v
    for i in range(n):
        add(i)
    return acc
''', [((4,), 6), ((0,), 0)]),
    ('''def squares(n):
    xs = [i * i for i in range(n) if i % 2 == 0]
    i = len(xs)
    return xs, i
''', [((5,), ([0, 4, 16], 3)), ((0,), ([], 0))]),
    ('''def classify(x):
    if x < 0:
        return "neg"
    elif x == 0:
        return "zero"
    else:
        return "pos"
''', [((-2,), "neg"), ((0,), "zero"), ((7,), "pos")]),
    ('''def collatz(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps
''', [((6,), 8), ((1,), 0), ((27,), 111)]),
    ('''def kw(a, b=2, *rest, scale=1, **extra):
    base = a + b
    more = sum(rest)
    return (base + more) * scale + len(extra)
''', [((1,), 3), ((1, 1, 1, 1), 4)]),
    ('''def order(a, b):
    x = a + 1
    y = b * 2
    z = x + y
    w = z - a
    return x, y, z, w
''', [((1, 2), (2, 4, 6, 5)), ((0, 0), (1, 0, 1, 1))]),
    ('''def side_effects(log):
    log.append("a")
    log.append("b")
    n = len(log)
    return log, n
''', [(([],), (["a", "b"], 2))]),
    ('''def matrix(n):
    m = []
    for i in range(n):
        row = []
        for j in range(n):
            row.append(i * n + j)
        m.append(row)
    return m
''', [((2,), [[0, 1], [2, 3]]), ((1,), [[0]])]),
    ('''def vowels(s):
    """Count vowels."""
    count = 0
    for ch in s:
        if ch in "aeiou":
            count += 1
    return count
''', [(("banana",), 3), (("",), 0)]),
    ('''def clamp(v, lo, hi):
    if v < lo:
        v = lo
    if hi < v:
        v = hi
    return v
''', [((5, 0, 3), 3), ((-1, 0, 3), 0), ((2, 0, 3), 2)]),
    ('''def pairs(n):
    out = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n:
            out += i * j
            j += 1
        i += 1
    return out
''', [((4,), 11), ((1,), 0)]),
    ('''def fmt(name, n):
    label = f"{name}:{n}"
    width = len(label)
    return label, width
''', [(("a", 3), ("a:3", 3))]),
    ('''def walrus(xs):
    total = 0
    for x in xs:
        if (y := x * 2) > 4:
            total += y
    return total
''', [(([1, 2, 3, 4],), 14)]),
    ('''def try_div(a, b):
    try:
        q = a // b
    except ZeroDivisionError as err:
        q = -1
    r = q + 1
    return r
''', [((7, 2), 4), ((1, 0), 0)]),
    ('''def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''', [((10,), 55), ((0,), 0)]),
    ('''def guard(x, y):
    if not x > y:
        return y - x
    else:
        return x - y
''', [((1, 3), 2), ((3, 1), 2), ((2, 2), 0)]),
    ('''def nested_loops(n):
    hits = 0
    for i in range(n):
        for j in range(i):
            if (i + j) % 3 == 0:
                continue
            hits += 1
    return hits, i
''', [((5,), (7, 4))]),
]
