# Sourced by scripts/serve and scripts/test: makes .venv (once) and installs the project into it
# (again only when pyproject.toml changed). Usage: bootstrap "<pip extras spec>"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WAN_MOCK_VENV:-$ROOT/.venv}"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "wan-mock needs Python 3.11 or newer (with venv); none was found on PATH" >&2
  return 1
}

bootstrap() {
  local spec="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV" >&2
    "$(find_python)" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(echo "$spec" | tr -c 'a-z' '_')"
  local want
  want="$(sha256sum <"$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing wan-mock$spec into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT$spec"
    echo "$want" >"$stamp"
  fi
}

# Installs one exact version of a pure-Python package, without its dependencies, into a folder
# of its own under ./.tools (git-ignored) when that version is missing there; tests put the folder
# first on PYTHONPATH to run against it. Without it, those tests are skipped (and fail under CI).
# Usage: python_target respx==0.22.0
python_target() {
  local spec="$1" dir="$ROOT/.tools/${1/==/-}"
  [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$spec" ] && return 0
  echo "==> installing $spec into $dir (pip)" >&2
  rm -rf "$dir"
  if "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$dir" "$spec"; then
    echo "$spec" >"$dir/.installed"
  else
    echo "==> pip could not install $spec: the tests that need it are skipped" >&2
  fi
}

# Installs Debian packages for the commands given as command:package, when a command is missing
# and apt-get can be used (root). Otherwise it says what is missing; tests that need it then skip
# (and fail under CI). Usage: system_tools ffprobe:ffmpeg chromium:chromium
system_tools() {
  local wanted=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || wanted+=("${pair#*:}")
  done
  [ "${#wanted[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing ${wanted[*]} (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null
  else
    echo "==> missing ${wanted[*]}: install them (e.g. sudo apt-get install ${wanted[*]})" \
      "or the media tests are skipped" >&2
  fi
}

# Installs the npm packages given as name@version into ./.tools (git-ignored) when that exact
# version is missing, with node and npm from Debian first if needed (as root). Without them it
# says so, and the tests that need the tools skip (and fail under CI).
# Usage: node_tools @stoplight/prism-cli@5.16.0
node_tools() {
  system_tools node:nodejs npm:npm
  if ! command -v npm >/dev/null 2>&1; then
    echo "==> npm is missing: the tests against Prism are skipped" >&2
    return 0
  fi
  local tools="$ROOT/.tools" spec name version installed
  for spec in "$@"; do
    name="${spec%@*}"
    version="${spec##*@}"
    installed="$(node -p "require('$tools/node_modules/$name/package.json').version" 2>/dev/null || true)"
    [ "$installed" = "$version" ] && continue
    echo "==> installing $spec into $tools (npm)" >&2
    # --ignore-scripts: no install hook runs (one of Prism's dependencies phones home from one).
    SCARF_ANALYTICS=false npm install --prefix "$tools" --no-audit --no-fund --ignore-scripts \
      --loglevel=error "$spec" >&2 ||
      echo "==> npm could not install $spec: the tests that need it are skipped" >&2
  done
}
