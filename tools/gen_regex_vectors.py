#!/usr/bin/env python3
"""Golden vectors for fp8q_regex: Python's own re module decides.

Usage: python3 tools/gen_regex_vectors.py [OUT]   (default tests/fixtures/regex_vectors.txt)

Writes hand-written cases (INC / compressed-tensors module names and
patterns, every construct, edge cases, errors, limits) and random ones
(patterns from a grammar over the supported syntax, and "soup" strings of
syntax characters, both over a small alphabet, each against several texts,
ASCII and non-ASCII) with what re.search, re.match and re.fullmatch answer,
or the error re.compile raised. Deterministic (fixed seed).

FORMAT: one record per line, fields separated by one TAB; lines starting
with '#' are comments. Pattern and text fields are UTF-8 bytes, escaped:
bytes 0x21-0x7E stand for themselves except the backslash, which is written
as two backslashes; every other byte (space, TAB, newline, non-ASCII) is
written as a backslash, 'x' and two hex digits. An empty field is an empty
string.
  V <pattern> <text> <smf>  Python compiled the pattern; s, m, f are '1' or
                            '0': re.search / re.match / re.fullmatch(pattern,
                            text) found a match. fp8q must return FP8Q_OK and
                            the same three answers.
  E <pattern> <message>     Python refused the pattern (re.error, or
                            OverflowError for a count >= 2^32); the message is
                            Python's, for reading. fp8q must refuse it with
                            FP8Q_ERR_PARSE or FP8Q_ERR_UNSUPPORTED.
  U <pattern> <construct>   Python compiled it, but it uses syntax outside
                            fp8q's subset (lookaround, backreference, inline
                            flags, named group, possessive, atomic, non-ASCII
                            class member, named character escape). fp8q must
                            return FP8Q_ERR_UNSUPPORTED.
  L <pattern> <why>         Python compiled it; it exceeds an fp8q limit
                            (pattern length, nesting, expanded size). fp8q
                            must return FP8Q_ERR_LIMIT.
"""
import random
import re
import sys
import warnings
from re import _constants as sc
from re import _parser as sp

warnings.simplefilter('ignore')  # FutureWarning for '[[' and '--' in sets

def esc(s):
    out = []
    for b in s.encode('utf-8'):
        if b == 0x5C:
            out.append('\\\\')
        elif 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append('\\x%02X' % b)
    return ''.join(out)


def unsupported(pattern):
    """The construct outside fp8q's subset that a pattern Python compiled uses, or None."""
    tree = sp.parse(pattern)
    if tree.state.flags & ~sc.SRE_FLAG_UNICODE:
        return 'global inline flags'
    if tree.state.groupdict:
        return 'named group'

    def walk(items):
        for op, av in items:
            if op in (sc.GROUPREF, sc.GROUPREF_EXISTS):
                return 'backreference'
            if op in (sc.ASSERT, sc.ASSERT_NOT):
                return 'lookaround'
            if op is sc.ATOMIC_GROUP:
                return 'atomic group'
            if op is sc.POSSESSIVE_REPEAT:
                return 'possessive quantifier'
            if op is sc.SUBPATTERN:
                if av[1] or av[2]:
                    return 'scoped inline flags'
                r = walk(av[3])
            elif op in (sc.MAX_REPEAT, sc.MIN_REPEAT):
                r = walk(av[2])
            elif op is sc.BRANCH:
                r = None
                for b in av[1]:
                    r = r or walk(b)
            elif op is sc.IN:
                r = None
                for o, a in av:
                    if (o is sc.LITERAL and a >= 0x80) or (o is sc.RANGE and a[1] >= 0x80):
                        r = 'non-ASCII class member'
            elif op is sc.NOT_LITERAL and av >= 0x80:
                r = 'non-ASCII class member'
            else:
                r = None
            if r:
                return r
        return None

    return walk(tree)


records = []
seen = set()


def add(pattern, texts, tag=None, why=''):
    """tag None: ask Python; 'U' / 'L': Python must accept, fp8q must refuse."""
    key = (pattern, tuple(texts), tag)
    if key in seen:
        return
    seen.add(key)
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as e:
        assert tag is None, (pattern, e)
        records.append('E\t%s\t%s' % (esc(pattern), esc(str(e))))
        return
    if tag is None:
        u = unsupported(pattern)
        if u:
            tag, why = 'U', u
    if tag:
        records.append('%s\t%s\t%s' % (tag, esc(pattern), esc(why)))
        return
    for t in texts:
        assert '\0' not in t
        smf = ''.join('1' if f(t) else '0' for f in (rx.search, rx.match, rx.fullmatch))
        records.append('V\t%s\t%s\t%s' % (esc(pattern), esc(t), smf))


# ---------------------------------------------------------------- hand-written

NAMES = [
    '', 'lm_head', 'model.lm_head', 'lm_head.weight', 'model.embed_tokens', 'model.norm',
    'model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj',
    'model.layers.0.self_attn.o_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.31.self_attn.v_proj',
    'model.layers.3.mlp.gate_proj', 'model.layers.3.mlp.up_proj', 'model.layers.3.mlp.down_proj',
    'model.layers.31.mlp.down_proj', 'model.layers.10.mlp.down_proj', 'model.layers.100.mlp.down_proj',
    'model.layers.2.mlp.down_proj.weight', 'model.layers.0.mlp.experts.7.w1', 'model.layers.5.mlp.gate',
    'model.layers.0.self_attn.kv_b_proj', 'model.layers.0.self_attn.q_a_proj', 'transformer.h.0.attn.c_attn',
    'language_model.model.layers.12.self_attn.k_proj', 'vision_tower.blocks.0.attn.qkv',
    'model.layers.0.input_layernorm',
    'model.layers.1.post_attention_layernorm', 'layers.0.mlp', 'model.layers.x.mlp', 'model.layers.01.mlp',
    'model.layers.0.self_attn', 'model.layers.0.self_attnX', 'model_layers_0_self_attn', 'mlp.down_proj\n',
    'MODEL.LAYERS.0.MLP', 'model.layers.0.mlp.down_proj_lora', 'head', 'lm_head\n', '\n',
]
PATTERNS = [
    'lm_head', '.*lm_head', 're', '.*mlp.down_proj$', r'.*mlp\.down_proj$', 'model.layers.(0|1|31).self_attn',
    r'.*self_attn.(q|k|v)_proj$', r'layers\.[0-9]+\.mlp', r'^model\.layers\.\d{1,2}\.', '[^.]+_proj',
    '(?:gate|up)_proj', r'.*\.mlp\.(gate|up|down)_proj', r'model\.layers\.([0-9]|[12][0-9]|3[01])\.',
    r'.*experts\.\d+\.w[123]$', r'^lm_head$',
    r'.*\.(q|k|v|o)_proj', r'.*layernorm', r'(^|\.)mlp(\.|$)', r'\bmlp\b', r'\Bmlp', r'self_attn\.\w+', r'\w+\.\w+$',
    r'\d+', r'\.\d\.', r'^(?!x)', r'.*', '', r'model\.layers\.\d+\.mlp\.(?:gate|up|down)_proj$', r'.*(gate|up)_proj.*',
    r'^model\.layers\.\d{1,2}\.(self_attn|mlp)\.[a-z_]+_proj$', r'(model\.)?layers\.0\.', r'layers\.0*1?\.',
    r'layers\.[^0-9]', r'proj$', r'proj\Z', r'\Alm', r'^\w+$', r'[\w.]+', r'[a-z_]+(\.[a-z_0-9]+)*',
    r'lm_head|.*down_proj',
    r'.*(?:q_a|kv_b)_proj', r'.*\.(?:[qkv]|o)_proj$', r'layers\.(?:[0-9]{1,3})\.', r'\.\d{2,}\.', r'\.\d{,1}\.',
    r'\.\d{1,}?\.', r'attn\.c_attn', r'(?:vision_tower|visual)\..*', r'.*embed.*', r'.*norm$',
]
SMALL = ['', 'a', 'b', 'ab', 'ba', 'aab', 'abb', 'abab', 'a\n', '\n', 'a\nb', 'xay', 'a.b', 'a b', '_a1', '1', '12',
         'a-b', '\t', ' ', 'aaaa', 'AbC', 'a]b', '{', 'a{', 'a{}', 'a{,}', '^', '$', '\\', 'a\\b', '\x1c', '\x0b',
         '\x7f', 'a\x08b', '\x07', 'é', 'café', 'ab\n\n', '\n\n', 'éé', 'aé', 'éa', 'ж中', 'aßb', 'a\u4e2d\n']
CONSTRUCTS = [
    'a', 'ab', '.', '..', 'a.b', '^a', 'a$', '^$', '^', '$', r'\A', r'\Z', r'a\Z', r'\Aa', '$\n', 'a$\n', r'a\n', '^a$',
    r'\n', r'\t', r'\\', r'\.', r'\*', r'\-', r'\_', r'\ ', r'\a', r'\f', r'\v', r'\r', r'\x61', r'\x2e', r'\u0061',
    r'\U00000061', r'\141', r'\0', r'\07', r'\101', r'\x5c', r'\x5C', r'[\x61-\x63]+', r'[\101]', r'[\0]', '\\\n',
    '[ab]', '[^ab]', '[a-c]', '[]a]', '[^]a]', '[]]', '[a-]', '[-a]', '[a\\-b]', '[\\]]', '[\\^a]', '[a^]', '[.]',
    '[\\d]', '[\\D]', '[\\w.]', '[^\\w]', '[\\s]', '[\\S]', '[^\\s]', '[\\b]', '[\\n]', '[^\\n]', '[a-b-c]',
    '[--/]', '[!-/]', '[\\x00-\\x7f]', '[^\\x00-\\x60]', '[\\\\]', '[\\\\a]', '[[]', '[[a]', '[{}]', '[$^]', '[*+?]',
    r'\d', r'\D', r'\w', r'\W', r'\s', r'\S', r'\d+', r'\w+', r'\W+', r'\s*', r'\b', r'\B', r'\ba', r'a\b', r'\Ba',
    r'a\B', r'\b\b', r'\bab\b', r'\B\B', r'^\b', r'\b$', r'\B$',
    'a*', 'a+', 'a?', 'a*?', 'a+?', 'a??', 'a{2}', 'a{2,}', 'a{1,2}', 'a{,2}', 'a{,}', 'a{0}', 'a{0,0}', 'a{0,1}',
    'a{2}?', 'a{1,2}?', 'a{,2}?', 'a{,}?', 'a{', 'a{}', 'a{x}', 'a{1', 'a{1,', 'a{,', 'a{ 1}', 'a{1,2', '{', '}',
    'a}', 'a{}}', '{a', 'a{{2}', 'ba{2}b', '(ab){2}', '(ab){0,2}b', '(?:ab)+', '(a|b)*', '(a|b)+?', '(a|)', '(|a)',
    '(a|)+b', 'a|b', 'a|', '|a', '|', '||', 'a||b', '()', '(?:)', '()*', '(?:)*', '(?:)+', '(?:){3}', '(a*)*', '(a*)+',
    '(a*)*b', '(a?)*', '(a|a)*b', '((a))', '(((a)b)c)?', '(?:(?:(?:a)))', '(^)*', '(?:^)*', '(^a|b)*', '($)+', '(\\b)+',
    '(?:a$)*', '(a$|b)*', 'a(?#comment)b', 'a(?#x)*', '(?#)', '(?#a(b)', 'a{1}{', 'a*{', 'a+{2', 'x*y*z*', '.*a.*',
    '.*?a', 'a.*?b', '(.*)(.*)', '(.*){3}', '(?:.?){3}a', '(a+)+$', '(a|aa)+$', '(.*a){2}', 'a{3,5}$', '^a{0,3}$',
    '(a{2}){2}', '(a{1,2}){2,3}', '(?:a|b){2}c', '[ab]{2,3}', '\\d{2}', '\\w{2,}\\b', '(?:\\w+\\.)+\\w+', 'é', 'é+',
    'café', 'caf\\u00e9', 'caf\\xe9', '\\é', '(?:é)+', '\\w+$', '\\bcafé\\b', '[a-z]+é', 'x*',
]
ERRORS = [
    'a**', 'a*+*', 'a+*', 'a??+', 'a{2}{3}', 'a{1,2}*', 'x{2,1}', 'x{4294967295}', 'x{,4294967295}', 'x{99999999999}',
    '*', '+a', '?', '{1}', '{1,2}', '(*)', '(+)', 'a|*', '^*', '$+', r'\b?', r'\A*', r'\Z{2}', r'(?#x)*', '(', ')',
    '(a', 'a)', '((a)', '(a))', '(?', '(?:', '(?:a', '[', '[a', '[]', '[^]', '[a-', '[z-a]', '[b-a]', r'[\w-a]',
    r'[a-\d]', r'[\d-\w]', '\\', 'a\\', '[\\', r'\q', r'\e', r'\g', r'\i', r'\8', r'\9', r'[\8]', r'[\A]', r'[\B]',
    r'[\Z]', r'[\q]', r'\x4', r'\x', r'\xg0', r'\u12', r'\U0011000', r'\U00110000', r'\400', r'[\400]', r'\1', r'\12',
    r'(a\1)', r'(a)\2', '(?<', '(?<x)', '(?P', '(?Px)', '(?z)', '(?#abc', r'\N', r'\N{', r'\N{NO SUCH NAME}', '(?a',
    '(?P=n)', '(?(1)a)', '(?P<1>a)', 'a(?i)', '(?<=a+)b',
]
UNSUPPORTED = [
    ('a(?=b)', 'lookahead'), ('a(?!b)', 'negative lookahead'), ('(?<=a)b', 'lookbehind'),
    ('(?<!a)b', 'negative lookbehind'), ('(?P<name>a)', 'named group'), ('(?P<n>a)(?P=n)', 'named backreference'),
    (r'(a)\1', 'backreference'), (r'(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10', 'backreference'),
    ('(a)(?(1)b|c)', 'conditional'),
    ('(?>a)', 'atomic group'), ('a*+', 'possessive'), ('a++', 'possessive'), ('a?+', 'possessive'),
    ('a{1,2}+', 'possessive'), ('(?i)abc', 'flags'), ('(?i:a)', 'scoped flags'), ('(?-i:a)', 'scoped flags'),
    ('(?s).', 'flags'), ('(?u)a', 'flags (no-op)'), ('(?t)a', 'flags'), ('(?u:a)', 'scoped flags'),
    ('(?x) a', 'flags'), ('(?a)\\w', 'flags'), ('(?m)^a', 'flags'), ('[é]', 'non-ASCII in class'),
    ('[^é]', 'non-ASCII in class'), ('[a-é]', 'non-ASCII in class'), (r'[\xe9]', 'non-ASCII in class'),
    (r'[\u00e9]', 'non-ASCII in class'), (r'\N{EM DASH}', r'\N'), (r'[\N{EM DASH}]', r'\N'),
]
LIMITS = [
    ('a{70000}', 'expanded size'), ('a{10001}', 'expanded size'), ('.{0,10001}', 'expanded size'),
    ('(a{100}){101}', 'expanded size'), ('((a{10}){10}){101}', 'expanded size'), ('(?:a{5000}){2}b', 'expanded size'),
    ('a' * 4097, 'pattern length'), ('(' * 65 + 'a' + ')' * 65, 'nesting'), ('(?:' * 65 + 'a' + ')' * 65, 'nesting'),
    ('(?:x{10}){10000}', 'expanded size'), ('a{4294967294}', 'expanded size'),
]

# ---------------------------------------------------------------- random

rng = random.Random(20261122)
TEXT_ALPHABET = 'aab_.1\n -é中'


def rtext():
    return ''.join(rng.choice(TEXT_ALPHABET) for _ in range(rng.randint(0, 7)))


def rclass():
    items = []
    for _ in range(rng.randint(1, 3)):
        k = rng.random()
        if k < 0.5:
            items.append(rng.choice(['a', 'b', '_', '.', '1', '-', 'x', '^', ']']))
        elif k < 0.7:
            items.append(rng.choice(['a-b', '0-9', 'a-z', '+--', '.-a']))
        else:
            items.append(rng.choice([r'\d', r'\w', r'\s', r'\D', r'\W', r'\S', r'\n', r'\.', r'\]', r'\\', r'\-']))
    s = ''.join(items)
    return '[' + ('^' if rng.random() < 0.3 else '') + s + ']'


def ratom(d):
    k = rng.random()
    if k < 0.35:
        return rng.choice(['a', 'b', '_', '1', '-', ' ', 'ab', 'ba', 'x'])
    if k < 0.45:
        return '.'
    if k < 0.52:
        return rng.choice([r'\.', r'\-', r'\n', r'\x61', r'\_'])
    if k < 0.62:
        return rclass()
    if k < 0.70:
        return rng.choice([r'\d', r'\w', r'\s', r'\D', r'\W', r'\S'])
    if k < 0.78:
        return rng.choice(['^', '$', r'\A', r'\Z', r'\b', r'\B'])
    if d < 3:
        inner = rregex(d + 1)
        return rng.choice(['(', '(?:']) + inner + ')'
    return 'a'


def rquant():
    q = rng.choice(['*', '+', '?', '{2}', '{1,}', '{0,2}', '{,2}', '{1,3}', '{0}', '{,}', '{2,2}', '{3}'])
    if rng.random() < 0.25:
        q += '?'
    if rng.random() < 0.03:
        q += rng.choice(['*', '+', '{2}'])  # multiple repeat or possessive
    return q


def rregex(d=0):
    branches = []
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
        items = []
        for _ in range(rng.randint(0 if d else 1, 4)):
            a = ratom(d)
            if rng.random() < 0.35:
                a += rquant()
            items.append(a)
        branches.append(''.join(items))
    return '|'.join(branches)


def texts_for(pattern, n):
    ts = [rtext() for _ in range(n)]
    ts += ['', '\n']
    # some texts built to match: strings Python finds a match in, extended
    try:
        rx = re.compile(pattern)
        for _ in range(40):
            t = rtext()
            if rx.search(t) and rng.random() < 0.5:
                ts.append(t)
            if len(ts) >= n + 6:
                break
    except (re.error, OverflowError):
        pass
    return ts


SOUP = 'ab.*+?()[]^$|\\{},-019dwsbBAZ:#=!<>P_\n x'


def main():
    for pat in PATTERNS:
        add(pat, NAMES)
    for pat in CONSTRUCTS:
        add(pat, SMALL)
    for pat in ERRORS:
        add(pat, [])
    for pat, why in UNSUPPORTED:
        add(pat, [], 'U', why)
    for pat, why in LIMITS:
        add(pat, [], 'L', why)
    # just inside the limits
    add('a' * 4096, ['a' * 4096, 'a' * 4095, 'b' + 'a' * 4096])
    add('(' * 64 + 'a' + ')' * 64, ['a', 'b'])
    add('a{10000}', ['a' * 10000, 'a' * 9999])
    add('.{0,4999}$', ['x' * 4999, 'x' * 5000, 'x' * 4999 + '\n'])
    # random
    for _ in range(900):
        p = rregex()
        add(p, texts_for(p, 6))
    for _ in range(1200):
        p = ''.join(rng.choice(SOUP) for _ in range(rng.randint(1, 9)))
        add(p, texts_for(p, 4))
    out = sys.argv[1] if len(sys.argv) > 1 else 'tests/fixtures/regex_vectors.txt'
    with open(out, 'w') as f:
        f.write('# fp8q regex golden vectors from Python %s re; format: see gen_regex_vectors.py\n' %
                sys.version.split()[0])
        for r in records:
            f.write(r + '\n')
    kinds = {}
    for r in records:
        kinds[r[0]] = kinds.get(r[0], 0) + 1
    print('%s: %d records %s' % (out, len(records), ' '.join('%s=%d' % kv for kv in sorted(kinds.items()))))


if __name__ == '__main__':
    main()
