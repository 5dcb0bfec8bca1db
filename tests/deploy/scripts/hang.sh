#!/bin/sh
# A deploy step that never ends: starts a child that ignores SIGTERM (so only SIGKILL
# ends it), writes the child's pid to the file given as $1, then waits forever.
sh -c 'trap "" TERM; while :; do sleep 1; done' &
echo "$!" > "$1.tmp"
mv "$1.tmp" "$1"
echo "child $! started"
while :; do sleep 1; done
