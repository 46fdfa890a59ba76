#!/usr/bin/env bash
# bot_launcher.sh — start a fleet of OptiFlow bots in the background (thin wrapper).
#   ./deploy/bot_launcher.sh [FLEET_DIR] [extra `optiflow fleet start` flags...]
#   ./deploy/bot_launcher.sh configs/fleet_9 --mode paper
# Status: optiflow fleet status FLEET_DIR   Stop: optiflow fleet stop FLEET_DIR
set -euo pipefail
FLEET_DIR="${1:-configs/fleet_9}"
shift || true
OPTIFLOW="${OPTIFLOW:-optiflow}"
exec "$OPTIFLOW" fleet start "$FLEET_DIR" "$@"
