#!/bin/sh
# Runs the yjs stand-in for crdt_interop_tool (see crdt_mock_tool.mjs).
exec node "$(dirname "$0")/crdt_mock_tool.mjs" "$@"
