#!/usr/bin/env bash
# Writes the gzipped man pages of one binary into OUT_DIR, all made by help2man from
# --help: PROGRAM.1 (its global options, with INCLUDE's sections), then one page per
# subcommand named as git names its own, PROGRAM-SUB-SUBSUB.1, found by following the
# "Subcommands:" lists, so a new subcommand gets its page without a change here.
#   make-man-pages.sh OUT_DIR VERSION PROGRAM SUMMARY INCLUDE
# A subcommand's --help repeats the global options under "Global options:"; its page
# leaves them out and points at PROGRAM(1) instead. Reproducible: gzip -n, and help2man
# dates the pages from SOURCE_DATE_EPOCH when it is set.
set -euo pipefail
out=$1 version=$2 program=$3 summary=$4 include=$5
name=$(basename "$program")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A page that is gone from --help must not stay in OUT_DIR.
rm -rf "$out"
mkdir -p "$out"

# page PAGE_NAME SUMMARY HELP_FILE HELP2MAN_ARGS...: help2man takes the page's name from the
# executable's, so each page gets a script of that name printing the help text.
page() {
  local page_name=$1 page_summary=$2 help=$3
  shift 3
  mkdir -p "$work/bin"
  printf '#!/bin/sh\ncat "%s"\n' "$help" >"$work/bin/$page_name"
  chmod +x "$work/bin/$page_name"
  help2man --no-info --section=1 --version-string="$version" --source="audiodrop $version" \
    --name="$page_summary" --output="$work/$page_name.1" "$@" "$work/bin/$page_name"
  gzip -9n <"$work/$page_name.1" >"$out/$page_name.1.gz"
}

subcommands_of() {
  sed -n '/^Subcommands:$/,/^$/p' "$1" | awk 'NR > 1 && NF { print $1 }'
}

# subcommand WORD...: the page of `PROGRAM WORD...`, then those of its subcommands.
subcommand() {
  local page_name help see_also parent word sub
  page_name="$name-$(IFS=-; echo "$*")"
  help="$work/$page_name.help"
  "$program" "$@" --help | sed '/^Global options:$/,/^$/d' >"$help"
  # SEE ALSO: the pages of the commands above this one, the program's first: it has the
  # global options.
  see_also="$work/$page_name.h2m"
  {
    printf '[SEE ALSO]\n.BR %s (1)\n(the global options, which every subcommand takes)' "$name"
    parent=$name
    for word in "${@:1:$#-1}"; do
      parent="$parent-$word"
      printf ',\n.BR %s (1)' "$parent"
    done
    printf '\n'
  } >"$see_also"
  page "$page_name" "$(head -n 1 "$help")" "$help" --include="$see_also"
  while read -r sub; do
    subcommand "$@" "$sub"
  done < <(subcommands_of "$help")
}

"$program" --help >"$work/$name.help"
page "$name" "$summary" "$work/$name.help" --include="$include"
while read -r sub; do
  subcommand "$sub"
done < <(subcommands_of "$work/$name.help")
