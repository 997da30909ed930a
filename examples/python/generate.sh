#!/usr/bin/env bash
# Generates the Python code the examples import into examples/python/gen/ (not committed: it is
# regenerated in a second, and must match the protoc of the machine that runs it):
#   - the Taskwire API (proto/taskwire/v1/*.proto), messages and gRPC stubs,
#   - google.rpc.Status, Code and the error details, to read rich errors (and Refused items),
#   - the worker's own contract, examples/python/proto/shapes/v1/shapes.proto.
#
# Needs protoc 3.15 or later (proto3 `optional`) and the gRPC Python plugin. On Debian/Ubuntu:
#   apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc
# With pip instead: pip install grpcio grpcio-tools (then `python3 -m grpc_tools.protoc` is used).
# Debian's own python3-grpc-tools bundles protoc 3.5, which refuses proto3 `optional`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/gen"
python="${PYTHON:-python3}"

protoc_version() { "$@" --version 2>/dev/null | sed -n 's/^libprotoc \([0-9]*\)\.\([0-9]*\).*/\1 \2/p'; }
recent() { [ -n "$1" ] && { read -r major minor <<<"$1"; [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 15 ]; }; }; }

if recent "$(protoc_version "$python" -m grpc_tools.protoc)"; then
  protoc=("$python" -m grpc_tools.protoc)
  grpc_plugin=()
elif recent "$(protoc_version protoc)" && command -v grpc_python_plugin >/dev/null; then
  protoc=(protoc)
  grpc_plugin=("--plugin=protoc-gen-grpc_python=$(command -v grpc_python_plugin)")
else
  echo "generate.sh: needs protoc >= 3.15 with grpc_python_plugin, or grpcio-tools (see the top of this file)" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
"${protoc[@]}" -I "$root/proto" -I "$here/proto" "${grpc_plugin[@]}" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  "$root"/proto/taskwire/v1/*.proto \
  "$root/proto/google/rpc/status.proto" "$root/proto/google/rpc/error_details.proto" "$root/proto/google/rpc/code.proto" \
  "$here/proto/shapes/v1/shapes.proto"
echo "generated $(find "$out" -name '*.py' | wc -l) Python modules in ${out#"$root"/}"
