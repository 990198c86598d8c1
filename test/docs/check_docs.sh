#!/usr/bin/env bash
# check_docs.sh ROOT — the documentation a user who clones only this repository reads must be
# inside it. Fails (exit 1, one line per finding) when:
#   1. a file cites the team's notes, which live outside the repository (the PROVIDERS,
#      INTERFACE, ARCHITECTURE, OPERATIONS and STYLE .md files, ../shared);
#   2. README.md or a page under docs/ links to a repository file that does not exist
#      (markdown links, relative to the page; and docs/*.md paths named in the text, relative
#      to the root);
#   3. a citation "providers.md §N" anywhere names a section docs/providers.md does not have;
#   4. a source label ([A14], [T15], [R1] ...) cited in the code is not in docs/providers.md.
# No network, no build: plain grep over the tree.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
fail=0
bad() {
    echo "check_docs: $*"
    fail=1
}

# Files of the project: sources, build files, scripts, docs, test data descriptions.
mapfile -t files < <(find . \( -path ./.git -o -path './build*' -o -path ./.deps -o -name node_modules \) -prune -o \
    -type f \( -name '*.c' -o -name '*.h' -o -name '*.md' -o -name '*.txt' -o -name '*.cmake' \
    -o -name '*.sh' -o -name '*.py' -o -name '*.js' -o -name '*.yaml' -o -name '*.yml' \
    -o -path './scripts/*' -o -path './.ci/*' \) -print | sed 's|^\./||' | sort)

# 1. Notes outside the repository.
self=test/docs/check_docs.sh
for f in "${files[@]}"; do
    [[ $f == "$self" ]] && continue
    while IFS= read -r hit; do
        bad "$f:$hit: cites notes outside the repository; cite a page under docs/ instead"
    done < <(grep -nE "PROVIDERS\.md|INTERFACE\.md|INTERFACE's|ARCHITECTURE\.md|OPERATIONS\.md|STYLE\.md|\.\./shared|shared/events/" "$f" | cut -c1-160)
done

# 2. Links from README.md and docs/ to files of the repository.
mapfile -t pages < <(printf '%s\n' "${files[@]}" | grep -E '^(README\.md|docs/.*\.md)$')
for p in "${pages[@]}"; do
    dir=$(dirname "$p")
    # [text](target): relative to the page; web links and anchors are not checked.
    while IFS= read -r t; do
        t=${t%%#*}
        [[ -z $t || $t == *://* || $t == mailto:* ]] && continue
        [[ -e "$dir/$t" ]] || bad "$p: link to $t, which does not exist"
    done < <(grep -oE '\]\([^) ]+\)' "$p" | sed -E 's/^\]\((.*)\)$/\1/')
    # docs/NAME.md named in the text (not inside a URL): relative to the root.
    while IFS= read -r t; do
        [[ -e $t ]] || bad "$p: names $t, which does not exist"
    done < <(grep -oE '(^|[^/A-Za-z0-9_.-])docs/[A-Za-z0-9_/-]+\.md' "$p" | sed -E 's/^[^d]*//' | sort -u)
done

# 3. Sections of docs/providers.md that citations name.
prov=docs/providers.md
if [[ ! -f $prov ]]; then
    bad "$prov is missing"
else
    mapfile -t have < <(grep -oE '^#{2,3} §[0-9]+[a-z]?' "$prov" | sed 's/^#* §//')
    for f in "${files[@]}"; do
        while IFS= read -r s; do
            ok=0
            for h in "${have[@]}"; do [[ $h == "$s" ]] && ok=1; done
            ((ok)) || bad "$f: cites $prov §$s, which has no such section"
        done < <(grep -oE 'providers\.md §[0-9]+[a-z]?' "$f" | sed 's/.*§//' | sort -u)
    done

    # 4. Source labels cited in the code, e.g. [A23,A24] or [T7,R3].
    mapfile -t srcs < <(printf '%s\n' "${files[@]}" | grep -E '^(lib|worker|scheduler|cmd)/.*\.[ch]$')
    mapfile -t labels < <(grep -hoE '\[[ACDGOQRST][0-9]+(,[ACDGOQRST][0-9]+)*\]' "${srcs[@]}" 2>/dev/null |
        tr -d '[]' | tr ',' '\n' | sort -u)
    for l in "${labels[@]}"; do
        grep -qE "^- \[$l\]" "$prov" || bad "the code cites [$l], which $prov §8 does not list"
    done
fi

((fail == 0)) && echo "check_docs: ok (${#files[@]} files, ${#pages[@]} pages)"
exit $fail
