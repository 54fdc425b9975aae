#!/bin/sh
# Runs the yjs stand-in for editing_interop_tool (see editing_mock_tool.mjs).
exec node "$(dirname "$0")/editing_mock_tool.mjs" "$@"
