#!/usr/bin/env bash
# restart.sh — keep a fleet alive inside `screen` (for hosts without systemd/supervisor/pm2).
#   screen -dmS optiflow ./deploy/restart.sh configs/fleet_9 --mode paper
# Runs `optiflow fleet run` in the foreground and starts it again (after a pause) whenever it
# exits, unless it was stopped on purpose (Ctrl-C, `optiflow fleet stop`, exit code 0) or the
# fleet folder is invalid (exit code 2). The bots outlive a supervisor crash and are adopted.
set -uo pipefail
FLEET_DIR="${1:-configs/fleet_9}"
shift || true
OPTIFLOW="${OPTIFLOW:-optiflow}"
PAUSE="${RESTART_PAUSE_S:-5}"
stop=0
trap 'stop=1' INT TERM
while [ "$stop" -eq 0 ]; do
    "$OPTIFLOW" fleet run "$FLEET_DIR" "$@"
    code=$?
    if [ "$code" -eq 0 ] || [ "$code" -eq 2 ] || [ "$stop" -ne 0 ]; then
        echo "restart.sh: fleet run exited with code $code; not restarting"
        exit "$code"
    fi
    echo "restart.sh: fleet run exited with code $code; restarting in ${PAUSE}s"
    sleep "$PAUSE"
done
