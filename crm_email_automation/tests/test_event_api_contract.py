"""The event API keeps its OpenAPI contract: schemathesis (in a virtualenv of its own, built
by tools/ensure_schemathesis.sh) generates requests from static/api/openapi.json and sends
them to Odoo's running HTTP server; no answer may be a 5xx or stray from the document."""

import os
import re
import subprocess
import tempfile

from odoo.tests import tagged
from odoo.tools.misc import file_path

from .event_api_common import EventApiCommon

# Every check that says "the server keeps its document"; the others (positive data accepted,
# say) would need records that match the random ids schemathesis draws.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)
ENSURE_SCRIPT = os.path.join(os.path.dirname(file_path("crm_email_automation")), "tools", "ensure_schemathesis.sh")


@tagged("post_install", "-at_install")
class TestEventApiContract(EventApiCommon):
    def schemathesis(self):
        """The schemathesis command; the test fails (never skips) when it cannot be built."""
        try:
            built = subprocess.run([ENSURE_SCRIPT], capture_output=True, text=True, timeout=900, check=False)
        except OSError as error:
            self.fail(f"cannot run {ENSURE_SCRIPT}: {error}")
        if built.returncode != 0:
            self.fail(f"could not build the schemathesis virtualenv:\n{built.stderr[-2000:]}")
        return built.stdout.strip().splitlines()[-1]

    def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(self):
        command = self.schemathesis()
        self.shipped_scenario()
        self.env["ir.config_parameter"].set_param("crm_email_automation.api_requests_per_minute", 100000)
        self.env.flush_all()
        base_url = f"http://127.0.0.1:{self.http_port()}"
        workdir = self.enterContext(tempfile.TemporaryDirectory(prefix="cea_schemathesis_"))
        result = subprocess.run(
            [
                command,
                "run",
                f"{base_url}/email_automation/api/v1/openapi.json",
                "--url",
                base_url,
                "--header",
                f"Authorization: Bearer {self.api_key}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "25",
                "--workers",
                "1",
                "--seed",
                "12",
                "--request-timeout",
                "60",
                # NUL characters too: PostgreSQL refuses them, the API must say 422, not 500.
                "--generation-allow-x00",
                "true",
                "--generation-database",
                "none",
                "--no-color",
            ],
            # Its working files go to a directory of their own, not the checkout.
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, output[-6000:])
        # Both POST operations were exercised, with hundreds of requests, all passing.
        self.assertRegex(output, r"Tested: 2\b", output[-3000:])
        generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", output).groups())
        self.assertGreaterEqual(generated, 100, output[-3000:])
        self.assertEqual(passed, generated, output[-3000:])
