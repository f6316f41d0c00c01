/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * An administrator opens the Brevo provider prepared by the test, gives it its API key
 * and tests the connection (the test's local Brevo server answers).
 */
registry.category("web_tour.tours").add("crm_email_automation_provider_tour", {
    url: "/odoo/action-crm_email_automation.email_automation_provider_action",
    steps: () => [
        {
            content: "Open the Brevo provider",
            trigger: ".o_data_row td[name='name']:contains('Brevo (tour)')",
            run: "click",
        },
        {
            content: "It sends through the Brevo API",
            trigger: ".o_field_widget[name='kind'] select:has(option:selected:contains('Brevo API'))",
        },
        {
            content: "Enter the API key",
            trigger: ".o_field_widget[name='api_key'] input",
            run: "edit tour-brevo-key",
        },
        ...stepUtils.saveForm(),
        {
            content: "Test the connection",
            trigger: ".o_statusbar_buttons button[name='action_test_connection']",
            run: "click",
        },
        {
            content: "Brevo accepted the key",
            trigger: ".o_notification:contains('Connection test succeeded')",
        },
    ],
});
