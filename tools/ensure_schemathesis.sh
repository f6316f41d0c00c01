#!/usr/bin/env bash
# Builds (once) the virtualenv that holds schemathesis for the event API's contract test and
# prints the path of its command. The test (tests/test_event_api_contract.py) calls this.
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_schemathesis || die "could not build the schemathesis virtualenv"
echo "$SCHEMATHESIS_VENV_DIR/bin/schemathesis"
