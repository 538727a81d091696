#!/usr/bin/env bash
# Rebuilds crates/web/assets from GOV.UK Frontend (npm, pinned in package-lock.json). Run it after
# changing crates/web/assets-src or upgrading govuk-frontend, and commit the result: cargo builds
# embed the committed files and never need npm or the network.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
out=crates/web/assets
mkdir -p "$out/govuk"
npx sass --no-source-map --style=compressed --load-path=node_modules \
  crates/web/assets-src/clusterwise.scss "$out/clusterwise.css"
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js "$out/govuk/govuk-frontend.min.js"
# The crown, crest and favicons are GOV.UK's own brand and are not copied: Clusterwise is not a
# GOV.UK service. Our favicon is crates/web/assets/favicon.svg.
version=$(node -p "require('./node_modules/govuk-frontend/package.json').version")
printf 'GOV.UK Frontend %s (MIT licence, Crown copyright), compiled by scripts/build-assets.sh.\n' "$version" > "$out/govuk/NOTICE.txt"
echo "built $(du -sh "$out" | cut -f1) into $out"
