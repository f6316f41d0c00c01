/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const STEPS_LIST = "div[name='step_ids']";

/**
 * Steps that fill in the step row being edited in the scenario's inline list.
 *
 * @param {string} name name of the step
 * @param {string} templateName name of the res.partner mail template to pick
 * @param {string} [delay] delay, in the default unit (days)
 */
function fillStepRow(name, templateName, delay) {
    const steps = [
        {
            content: `Name the step "${name}"`,
            trigger: `${STEPS_LIST} .o_selected_row [name='name'] input`,
            run: `edit ${name}`,
        },
        {
            content: "The step sends an e-mail",
            trigger: `${STEPS_LIST} .o_selected_row [name='action_type'] select`,
            run: 'select "mail"',
        },
    ];
    if (delay) {
        steps.push(
            {
                content: `Wait ${delay} days`,
                trigger: `${STEPS_LIST} .o_selected_row [name='delay'] input`,
                run: `edit ${delay}`,
            },
            {
                content: "The delay is counted in days",
                trigger: `${STEPS_LIST} .o_selected_row [name='delay_unit'] select`,
                run: 'select "days"',
            }
        );
    }
    steps.push(
        {
            content: `Choose the template "${templateName}"`,
            trigger: `${STEPS_LIST} .o_selected_row [name='mail_template_id'] input`,
            run: `edit ${templateName}`,
        },
        {
            content: "Pick it in the autocomplete",
            trigger: `.o-autocomplete--dropdown-menu .ui-menu-item-wrapper:contains("${templateName}")`,
            run: "click",
        },
        {
            content: "The template is set",
            trigger: `${STEPS_LIST} .o_selected_row [name='mail_template_id'] input:value("${templateName}")`,
        }
    );
    return steps;
}

registry.category("web_tour.tours").add("crm_email_automation_create_scenario_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps(
            "crm_email_automation.crm_email_automation_menu_root",
            "Open the E-mail Automation app"
        ),
        {
            content: "Wait for the scenarios",
            trigger: ".o_breadcrumb:contains('Scenarios')",
        },
        {
            content: "Create a scenario",
            trigger: ".o_control_panel_main_buttons .o-kanban-button-new",
            run: "click",
        },
        {
            content: "Name the scenario",
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            run: "edit Tour scenario",
        },
        {
            content: "The scenario runs on contacts by default",
            trigger: ".o_field_widget[name='model_id'] input:value('Contact')",
        },
        {
            content: "Records are enrolled by hand only",
            trigger: ".o_field_widget[name='trigger'] select",
            run: 'select "manual"',
        },
        {
            content: "Add the first step",
            trigger: `${STEPS_LIST} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        ...fillStepRow("Welcome", "Tour welcome template"),
        {
            content: "Add the second step",
            trigger: `${STEPS_LIST} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "The first step is in the list",
            trigger: `${STEPS_LIST} .o_data_row:not(.o_selected_row) td[name='name']:contains('Welcome')`,
        },
        ...fillStepRow("Reminder", "Tour reminder template", "2"),
        ...stepUtils.saveForm(),
        {
            content: "Both steps are saved",
            trigger: `${STEPS_LIST} .o_data_row:eq(1) td[name='name']:contains('Reminder')`,
        },
        {
            content: "Start the scenario",
            trigger: ".o_statusbar_buttons button[name='action_start']:enabled",
            run: "click",
        },
        {
            content: "The scenario is running",
            trigger: ".o_statusbar_status button.o_arrow_button_current[data-value='running']",
        },
        {
            content: "It can now be paused",
            trigger: ".o_statusbar_buttons button[name='action_pause']",
        },
    ],
});
