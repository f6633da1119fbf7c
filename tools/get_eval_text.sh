#!/bin/sh
# Rebuilds eval/docutils-prose.txt, the English text `make eval` measures
# perplexity on, from the docutils 0.23 source distribution on PyPI. Every
# file used carries docutils' public-domain dedication ("This document has
# been placed in the public domain"). Needs pip and network access to PyPI.
# Usage: sh tools/get_eval_text.sh [OUT]   (default eval/docutils-prose.txt)
set -eu
out=${1:-eval/docutils-prose.txt}
sha=746f5060322511280a1e50eb76846ed6bf2342984b2ac04dc42caa1a8d78799e
files="docs/peps/pep-0256.rst docs/peps/pep-0257.rst docs/peps/pep-0258.rst docs/peps/pep-0287.rst
docs/dev/rst/alternatives.rst docs/dev/rst/problems.rst docs/dev/policies.rst docs/dev/enthought-plan.rst
docs/dev/hacking.rst"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: docutils==0.23 -d "$tmp"
echo "$sha  $tmp/docutils-0.23.tar.gz" | sha256sum -c - >/dev/null
tar xzf "$tmp/docutils-0.23.tar.gz" -C "$tmp"
: >"$out"
for f in $files; do
    grep -q -i "placed in the public domain" "$tmp/docutils-0.23/$f"
    cat "$tmp/docutils-0.23/$f" >>"$out"
done
echo "wrote $out ($(wc -c <"$out") bytes)"
