/** @odoo-module */

import { registry } from "@web/core/registry";

const REASON = "The customer asked by phone to stop the reminders";

registry.category("web_tour.tours").add("crm_email_automation_document_tour", {
    steps: () => [
        {
            content: "The confirmed order shows it is in one e-mail scenario",
            trigger:
                ".o_form_view button[name='action_view_email_automation_participants']:contains('E-mail Automation') .o_stat_value:contains('1')",
            run: "click",
        },
        {
            content: "The list shows the scenario",
            trigger: ".o_list_view .o_data_row td[name='scenario_id']:contains('Tour order follow-up')",
        },
        {
            content: "and the next step; open the participation",
            trigger: ".o_list_view .o_data_row td[name='next_step_id']:contains('Thank-you e-mail')",
            run: "click",
        },
        {
            content: "The participation says what comes next",
            trigger: ".o_form_view .o_field_widget[name='next_step_id']:contains('Thank-you e-mail')",
        },
        {
            content: "and when",
            trigger: ".o_form_view .o_field_widget[name='next_step_at']:not(:empty)",
        },
        {
            content: "Remove the order from the scenario",
            trigger: ".o_form_view .o_form_statusbar button[name='action_remove_from_scenario']",
            run: "click",
        },
        {
            content: "Say why",
            trigger: ".modal .o_field_widget[name='reason'] textarea",
            run: `edit ${REASON}`,
        },
        {
            content: "Confirm",
            trigger: ".modal footer button[name='action_apply']",
            run: "click",
        },
        {
            content: "The participation is cancelled",
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status .o_arrow_button_current:contains('Cancelled')",
        },
        {
            content: "with the reason on it",
            trigger: `.o_form_view .o_field_widget[name='exit_note']:contains('${REASON}')`,
        },
        {
            content: "and nothing left to do",
            trigger: ".o_form_view .o_form_statusbar:not(:has(button[name='action_remove_from_scenario']))",
        },
    ],
});
