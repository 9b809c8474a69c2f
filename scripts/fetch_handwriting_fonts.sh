#!/usr/bin/env bash
# Fetches OFL/Apache handwriting and script fonts from npm (@fontsource/*) into DIR, for
# scripts/render_handwritten_lines.py. Only the Latin subset, regular weight, as WOFF (which
# FreeType reads without brotli), with each font's LICENSE beside it. Nothing here is
# committed: the fonts are other people's work, fetched when wanted.
#
#     bash scripts/fetch_handwriting_fonts.sh /work/hwfonts
set -euo pipefail
out=${1:?usage: fetch_handwriting_fonts.sh DIR}
# Chosen for variety of hands: copperplate and formal scripts (the 19th-century letters),
# casual cursive, print-like handwriting, felt pen. Versions pinned: 5.3.0 unless named.
fonts="alex-brush allura annie-use-your-telescope caveat cedarville-cursive cookie courgette
dancing-script dawning-of-a-new-day felipa gochi-hand great-vibes herr-von-muellerhoff
homemade-apple indie-flower italianno just-me-again-down-here kalam kristi la-belle-aurore
loved-by-the-king marck-script meddon monsieur-la-doulaise mr-de-haviland mrs-saint-delafield
norican nothing-you-could-do over-the-rainbow parisienne petit-formal-script pinyon-script
qwigley@5.2.8 reenie-beanie rouge-script ruthie sacramento satisfy seaweed-script shadows-into-light
sue-ellen-francisco tangerine the-girl-next-door waiting-for-the-sunrise yellowtail zeyada"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in $fonts; do
  font=${entry%@*}
  version=5.3.0
  [ "$entry" != "$font" ] && version=${entry#*@}
  if [ -f "$out/$font.woff" ]; then continue; fi
  (cd "$work" && npm pack -q "@fontsource/$font@$version" > /dev/null)
  tar xzf "$work/fontsource-$font-$version.tgz" -C "$work" \
    "package/files/$font-latin-400-normal.woff" package/LICENSE
  mv "$work/package/files/$font-latin-400-normal.woff" "$out/$font.woff"
  mv "$work/package/LICENSE" "$out/$font.LICENSE"
  rm -rf "$work/package" "$work"/*.tgz
done
echo "$(ls "$out"/*.woff | wc -l) fonts in $out"
