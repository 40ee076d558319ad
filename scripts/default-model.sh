#!/usr/bin/env bash
# Prints the path of the default model (stories260K): the shared data copy when
# it exists, else a cached copy downloaded once and checked against its sha256
# (from ../shared/data/SOURCES.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${QINFER_SHARED_DATA:-$here/../shared/data}/models/stories260K/stories260K.gguf"
if [ -f "$shared" ]; then
  echo "$shared"
  exit 0
fi
sha=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
url=https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf
cache="${XDG_CACHE_HOME:-$HOME/.cache}/qinfer"
out="$cache/stories260K.gguf"
if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
echo "downloading stories260K (1.2 MB) from $url" >&2
curl -fL --retry 3 --progress-bar -o "$out.part" "$url" >&2
if ! echo "$sha  $out.part" | sha256sum -c --status; then
  rm -f "$out.part"
  echo "error: checksum mismatch for the downloaded stories260K.gguf" >&2
  exit 1
fi
mv "$out.part" "$out"
echo "$out"
