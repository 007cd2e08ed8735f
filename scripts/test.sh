#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the project with its test
# extras) and run the whole suite: lint, unit, integration and interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(swaks curl openssl fetchmail getmail6 neomutt isync s-nail tmux tshark chromium postfix)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for p in "${DEBS[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        # postfix: "No configuration" writes no /etc/postfix/main.cf, so no system
        # Postfix starts or holds port 25; the relay tests run a private one.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[test]'
python3 -m ruff check src tests benchmarks
python3 -m pytest -q -p no:cacheprovider "$@"
