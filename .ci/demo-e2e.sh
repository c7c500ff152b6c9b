#!/usr/bin/env bash
# End-to-end check of `scalelab demo` in a real terminal: tmux starts it at 120x40, this script
# presses keys and reads the pane, as a person at a live demo would. It checks that the view
# draws, that a kill lands in every design and shows in the event log, that the help and the
# too-small screen appear, that `s` saves a repro that `scalelab replay` reproduces, that
# quitting saves the session too, that --start-at and `g` jump and pause, and that quitting
# (and a panic) give the terminal back: alternate screen left, raw mode off, cursor on.
#
# Usage: bash .ci/demo-e2e.sh [path/to/scalelab]   (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(realpath "${1:-target/sim/release/scalelab}")"
work="$(mktemp -d)"
sock="scalelab-e2e-$$"
export LANG=C.UTF-8
t() { tmux -u -L "$sock" "$@"; }
cleanup() { t kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

pane() { t capture-pane -p -t "$1"; }
# The pane with what scrolled out of it (the farewell, once more output followed it).
pane_all() { t capture-pane -p -S -1000 -t "$1"; }
# wait_for WINDOW PATTERN SECONDS: until the pane shows PATTERN (grep -E).
wait_for() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    if pane "$1" | grep -qE -- "$2"; then return 0; fi
    sleep 0.2
  done
  echo "demo-e2e: FAILED waiting ${3}s for /$2/ in $1; the pane shows:"
  pane "$1"
  exit 1
}
keys() { t send-keys -t "$1" "${@:2}"; }
check() { echo "demo-e2e: ok: $*"; }
# restored WINDOW: the program in it gave the terminal back (main screen, cursor shown).
restored() {
  [[ "$(t display -p -t "$1" '#{alternate_on}')" == 0 ]] || { echo "demo-e2e: FAILED: $1 left the alternate screen on"; exit 1; }
  [[ "$(t display -p -t "$1" '#{cursor_flag}')" == 1 ]] || { echo "demo-e2e: FAILED: $1 left the cursor hidden"; exit 1; }
}

# The demo runs in a shell that, once it exits, prints its exit code and whether the
# terminal is back in cooked mode, then idles so the pane can be read.
after='echo "demo exited $?"; stty -a | grep -oE -- "(^| )-?icanon" | sed "s/^ //;s/^/tty: /"; sleep 120'

t new-session -d -s demo -x 120 -y 40 "cd '$work' && '$bin' demo --seed 7 --speed 50x --out '$work/out'; $after"
wait_for demo "scalelab · black-friday · seed 7" 30
check "the view draws its header"
wait_for demo "1 vertical" 5
wait_for demo "4 sharded" 5
wait_for demo "0:00:[1-5][0-9] / 0:20:00" 60
check "virtual time advances"

# Paused, a kill lands at the next tick in all four designs; three single steps show it.
keys demo Space
wait_for demo "· paused" 5
keys demo k
wait_for demo "kill which role" 5
keys demo a
wait_for demo "kill app: every design at tick [0-9]+" 5
keys demo . . .
wait_for demo "\[    1\] kill app: killed app \(no restart\)" 10
wait_for demo "\[2,3,4\] kill app: killed app-0 \(no restart\)" 5
wait_for demo "app ✕ db ● mail ●" 5
check "a kill lands in all four designs, shows in the event log and in the strip of nodes"
keys demo Space
wait_for demo "· running" 5

keys demo '?'
wait_for demo "heal everything" 5
keys demo x
check "the help opens and closes"

keys demo s
wait_for demo "saved [^ ]+\.toml" 10
saved="$(pane demo | grep -oE 'saved [^ ]+\.toml' | head -1 | cut -d' ' -f2)"
check "s saved $saved"

t resize-window -t demo -x 70 -y 20
wait_for demo "terminal too small" 10
wait_for demo "needs at least 80x24" 5
t resize-window -t demo -x 120 -y 40
wait_for demo "scalelab · black-friday" 10
check "resizing: the too-small screen, then the view again"

keys demo q
wait_for demo "demo exited 0" 90
wait_for demo "trace hash" 5
wait_for demo "tty: icanon" 5
restored demo
check "q quits with the terminal restored"

(cd "$work" && "$bin" replay "$saved") | tee "$work/replay.txt"
[[ "$(grep -c 'same trace' "$work/replay.txt")" == 4 ]] || { echo "demo-e2e: FAILED: the saved session did not replay"; exit 1; }
check "the saved session replays bit for bit in another process"

# Quitting saved the session as it ended; that file replays to the hashes the farewell printed.
quitsave="$(pane_all demo | grep -oE 'saved: [^ ]+\.toml' | tail -1 | cut -d' ' -f2)"
[[ -n "$quitsave" ]] || { echo "demo-e2e: FAILED: quitting saved nothing"; pane demo; exit 1; }
(cd "$work" && "$bin" replay "$quitsave") | tee "$work/replay-quit.txt"
hashes="$(pane_all demo | grep -oE 'trace hash [0-9a-f]{16}' | cut -d' ' -f3)"
[[ "$(echo "$hashes" | wc -w)" == 4 ]] || { echo "demo-e2e: FAILED: the farewell printed no four hashes"; pane_all demo; exit 1; }
for h in $hashes; do
  grep -q "same trace $h" "$work/replay-quit.txt" || { echo "demo-e2e: FAILED: the farewell's hash $h is not the saved session's"; exit 1; }
done
check "quitting saved the session ($quitsave), and it replays to the hashes printed"
for f in report.html trace.json vertical.jtl sharded.hgrm; do
  [[ -s "$work/out/$f" ]] || { echo "demo-e2e: FAILED: --out wrote no $f"; ls -la "$work/out" || true; exit 1; }
done
pane_all demo | grep -q "writing the session's files" || { echo "demo-e2e: FAILED: --out did not say what it wrote"; pane demo; exit 1; }
check "--out wrote the session's report.html, trace.json, JTL and .hgrm on quitting"

# --start-at: the talk starts at the chosen minute, paused there.
t new-window -t demo -n start "cd '$work' && '$bin' demo --seed 7 --start-at 0:00:40; $after"
wait_for start "0:00:40 / 0:20:00 virtual · 10x · paused" 60
keys start g
wait_for start "jump ahead" 5
keys start 1
wait_for start "0:01:40 / 0:20:00 virtual · 10x · paused" 90
keys start q
wait_for start "demo exited 0" 30
check "--start-at runs to 0:00:40 and pauses; g 1 jumps a minute and pauses again"

# A panic on the UI thread must give the terminal back too.
t new-window -t demo -n panic "cd '$work' && SCALELAB_DEMO_TEST_PANIC=1 '$bin' demo --seed 7 --paused; $after"
wait_for panic "demo exited 101" 30
wait_for panic "deliberate panic" 5
wait_for panic "tty: icanon" 5
restored panic
check "a panic restores the terminal and shows its message"
echo "demo-e2e: all checks passed"
