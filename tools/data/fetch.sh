#!/usr/bin/env bash
# Downloads the real inputs and verifies them against the checksums their publishers give.
#   tools/data/fetch.sh challenge2021 DIR   PhysioNet/CinC Challenge 2021 v1.0.3 training sets (~8 GB),
#                                           verified against PhysioNet's SHA256SUMS.txt
#   tools/data/fetch.sh code15 DIR          CODE-15% (Zenodo record 4916206: exams.csv + exams_part0..17,
#                                           ~60 GB unpacked), verified against Zenodo's md5 checksums
#   tools/data/fetch.sh backbones DIR       the published pretrained backbones (Hugging Face
#                                           KAZABANA/Foundation-Models-for-ECG-classification)
# Add --dry-run to print what would be fetched. Downloads resume (wget -c); a file failing its checksum is
# reported and removed, and the script exits non-zero. Needs wget, sha256sum, md5sum, unzip.
set -euo pipefail

dry=0
args=()
for a in "$@"; do
  if [ "$a" = "--dry-run" ]; then dry=1; else args+=("$a"); fi
done
[ ${#args[@]} -eq 2 ] || { sed -n '2,10p' "$0"; exit 2; }
what=${args[0]}
out=${args[1]}
mkdir -p "$out"
cd "$out"

fetch() {  # URL [output name]
  if [ $dry -eq 1 ]; then echo "would fetch $1"; return 0; fi
  if [ -n "${2:-}" ]; then wget -q --show-progress -c -O "$2" "$1"; else wget -q --show-progress -c "$1"; fi
}

case "$what" in
  challenge2021)
    base=https://physionet.org/files/challenge-2021/1.0.3
    fetch "$base/SHA256SUMS.txt" SHA256SUMS.txt
    if [ $dry -eq 1 ]; then echo "would mirror $base/training/ (recursive)"; exit 0; fi
    wget -q --show-progress -r -N -c -np -nH --cut-dirs=3 -R "index.html*" "$base/training/"
    # Only the training files are mirrored: check those lines of the published list.
    grep ' training/' SHA256SUMS.txt | sha256sum --quiet -c - || { echo "fetch: checksum mismatch (see above)"; exit 1; }
    echo "challenge2021: $(find training -name '*.hea' | wc -l) records verified in $out/training"
    ;;
  code15)
    api=https://zenodo.org/api/records/4916206
    fetch "$api" zenodo_record.json
    if [ $dry -eq 1 ]; then echo "would fetch exams.csv and exams_part0..17.zip listed in $api"; exit 0; fi
    # The record's JSON lists each file as {"key": NAME, ..., "checksum": "md5:HEX", ...}.
    tr '{}' '\n\n' < zenodo_record.json | grep '"key"' | while read -r entry; do
      name=$(sed -E 's/.*"key": *"([^"]+)".*/\1/' <<<"$entry")
      md5=$(sed -E 's/.*"checksum": *"md5:([0-9a-f]+)".*/\1/' <<<"$entry")
      fetch "https://zenodo.org/records/4916206/files/$name?download=1" "$name"
      if ! echo "$md5  $name" | md5sum --quiet -c -; then echo "fetch: $name fails its md5; removed"; rm -f "$name"; exit 1; fi
      case "$name" in *.zip) unzip -n -q "$name" ;; esac
    done
    echo "code15: $(ls exams_part*.hdf5 2>/dev/null | wc -l) parts verified in $out"
    ;;
  backbones)
    repo=KAZABANA/Foundation-Models-for-ECG-classification
    fetch "https://huggingface.co/api/models/$repo" hf_model.json
    [ $dry -eq 1 ] && { echo "would fetch every file listed in hf_model.json"; exit 0; }
    grep -o '"rfilename": *"[^"]*"' hf_model.json | sed -E 's/.*"([^"]+)"$/\1/' | while read -r f; do
      mkdir -p "$(dirname "$f")"
      fetch "https://huggingface.co/$repo/resolve/main/$f" "$f"
    done
    # Hugging Face publishes no checksum list through this API; the engine verifies every zip entry's CRC-32
    # when it reads a checkpoint (agf-convert --list FILE).
    echo "backbones: fetched into $out; check each with: agf-convert --list FILE"
    ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
