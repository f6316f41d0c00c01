/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_email_automation_testing_tour", {
    steps: () => [
        {
            content: "Simulate the scenario before it goes live",
            trigger: ".o_form_view .o_form_statusbar button[name='action_open_simulation']",
            run: "click",
        },
        {
            content: "Two records would enter now",
            trigger: ".modal .o_field_widget[name='enter_count']:contains('2')",
        },
        {
            content: "The sample names them",
            trigger: ".modal .o_field_widget[name='sample']:contains('Janina Testowa')",
        },
        {
            content: "The first e-mail would reach one of them",
            trigger: ".modal .o_ea_simulate_step:contains('Tour welcome e-mail') .o_ea_simulate_done:contains('1')",
        },
        {
            content: "and the other has no consent",
            trigger: ".modal .o_ea_simulate_step:contains('Tour welcome e-mail') .o_ea_simulate_reason:contains('No marketing consent')",
        },
        {
            content: "Close the simulation",
            trigger: ".modal footer button.btn-secondary",
            run: "click",
        },
        {
            content: "Open the e-mail step",
            trigger:
                "body:not(:has(.modal)) .o_field_widget[name='step_ids'] .o_data_row:contains('Tour welcome e-mail') .o_list_record_open_form_view button",
            run: "click",
        },
        {
            content: "Preview its e-mail",
            trigger: ".o_form_view .o_form_statusbar button[name='action_open_preview']",
            run: "click",
        },
        {
            content: "Pick a Polish record",
            trigger: ".modal .o_field_widget[name='res_id'] input",
            run: "edit Janina Testowa",
        },
        {
            content: "from the records",
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Janina Testowa')",
            run: "click",
        },
        {
            content: "The subject is the Polish one the customer would read",
            trigger: ".modal .o_field_widget[name='preview_subject']:contains('Witamy, Janina Testowa')",
        },
        {
            content: "in Polish",
            trigger: ".modal .o_field_widget[name='preview_lang']:contains('Polski')",
        },
        {
            content: "Close the preview",
            trigger: ".modal footer button.btn-secondary",
            run: "click",
        },
        {
            content: "Back on the step",
            trigger: "body:not(:has(.modal)) .o_form_view button[name='action_open_preview']",
        },
    ],
});
