#!/usr/bin/env bash
# Write the committed tree (HEAD) as a Hugging Face Docker Space into a new folder, ready to push: the Space's
# README.md opens with its front matter (sdk: docker, app_port), which cannot open this repository's README.
#   bash scripts/hf_space.sh OUT_DIR    then: cd OUT_DIR && git init && git remote add space SPACE_URL && git push
# Every file must stay under 10 MiB: a Space refuses larger ones pushed without Git LFS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/hf_space.sh OUT_DIR}
[[ -e $out ]] && { echo "error: $out exists" >&2; exit 2; }
mkdir -p "$out"
git archive HEAD | tar -x -C "$out"
rm -rf "$out/tests" "$out/.ci"
{
    printf -- '---\ntitle: FaceFill\nemoji: 🎭\nsdk: docker\napp_port: 8501\npinned: false\n---\n\n'
    cat README.md
} > "$out/README.md.new"
mv "$out/README.md.new" "$out/README.md"
too_big=$(find "$out" -type f -size +10M)
if [[ -n $too_big ]]; then
    echo "error: a Space refuses files over 10 MiB without Git LFS: $too_big" >&2
    exit 1
fi
echo "wrote the Space into $out ($(du -sh "$out" | cut -f1)); largest file: $(find "$out" -type f -printf '%s %p\n' | sort -rn | head -1 | awk '{printf "%s (%.1f MiB)", $2, $1 / 1048576}')"
